DELETE FROM ALERTS WHERE RULE_ID IN ('default-error-rate', 'default-p95-latency',
                                     'default-utilization', 'default-no-traffic');
DELETE FROM ALERT_RULES WHERE RULE_ID IN ('default-error-rate', 'default-p95-latency',
                                          'default-utilization', 'default-no-traffic');
