-- depends: 0006_create_alerts
-- Default alert rules, for every model (MODEL_ID NULL). no_traffic is inserted disabled: a model
-- nobody routes to yet would alert at once; enable it where steady traffic is expected.
INSERT INTO ALERT_RULES (RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES,
                         MIN_SAMPLES, SEVERITY, MODEL_ID, ENABLED)
VALUES ('default-error-rate', 'Error rate above 5 % over 5 minutes', 'error_rate', 'gt', 0.05,
        5, 20, 'critical', NULL, 1);
INSERT INTO ALERT_RULES (RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES,
                         MIN_SAMPLES, SEVERITY, MODEL_ID, ENABLED)
VALUES ('default-p95-latency', 'p95 latency above 5 s over 10 minutes', 'p95_latency_ms', 'gt',
        5000, 10, 20, 'warning', NULL, 1);
INSERT INTO ALERT_RULES (RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES,
                         MIN_SAMPLES, SEVERITY, MODEL_ID, ENABLED)
VALUES ('default-utilization', 'Utilization above 90 % over 5 minutes', 'utilization', 'gt', 0.9,
        5, 1, 'warning', NULL, 1);
INSERT INTO ALERT_RULES (RULE_ID, NAME, METRIC, COMPARATOR, THRESHOLD, WINDOW_MINUTES,
                         MIN_SAMPLES, SEVERITY, MODEL_ID, ENABLED)
VALUES ('default-no-traffic', 'No traffic for 30 minutes', 'no_traffic', 'lt', 1,
        30, 1, 'info', NULL, 0);
