"""The privacy report and the audit's figures: they render results ganguard has written
(`AuditResult`, `UtilityResult`, metrics.jsonl) and compute nothing of their own."""
