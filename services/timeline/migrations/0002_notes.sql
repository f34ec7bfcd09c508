-- Notes on an order's timeline: who wrote them and when they were last edited.
ALTER TABLE events ADD COLUMN author text;
ALTER TABLE events ADD COLUMN updated_at timestamptz;
