"""Reports (运行日报, 受理要情, monthly unit reports, topic reports) and hot topics with spike
detection."""
