"""The studies: the chapter's open questions as data (catalogue), their findings, report and figures."""
