-- Background work (a backfill's commands, origin 'backfill') waits behind live work: the
-- scheduler claims a tenant's live commands first, and only live commands count as the
-- tenant's backlog when a new live command is admitted.
ALTER TABLE deferred_commands ADD COLUMN background boolean NOT NULL DEFAULT false;
CREATE INDEX deferred_commands_ready_first ON deferred_commands (tenant_id, background, id)
    WHERE reason <> 'parked';
