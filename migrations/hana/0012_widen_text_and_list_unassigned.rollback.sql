-- The widened MODELS columns stay wide: narrowing them back would fail on (or lose) values the
-- API accepted meanwhile.
DROP TABLE ASSIGNMENT_RUN_UNASSIGNED;
