"""Supervision of the member units: 督办 (supervisions and their ledger), unit approvals of
replies, and 提醒函 (reminder letters)."""
