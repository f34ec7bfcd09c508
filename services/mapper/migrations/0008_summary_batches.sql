-- Summary mode: the batch a new entry goes into (the next one of its day, currency, profile and
-- kind once the day was closed) is read for every order absorbed and every group closed
-- (services/mapper/summary.py); this keeps that read off a scan of the shop's whole history.
CREATE INDEX summary_entries_group ON summary_entries (shop, day, currency, profile, kind, batch);
