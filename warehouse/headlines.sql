-- headlines: one row per distinct headline_key across all drops, derived from
-- drop_headlines. "First seen" is by the drop's file time; ties break on drop_id
-- and position so that a rebuild gives the same text.
INSERT INTO headlines
SELECT
    dh.headline_id,
    first(dh.text ORDER BY d.received_at, d.drop_id, dh.position) AS text,
    min(d.received_at) AS first_seen_at,
    max(d.received_at) AS last_seen_at,
    count(DISTINCT dh.drop_id) AS drop_count
FROM drop_headlines AS dh
JOIN drops AS d USING (drop_id)
GROUP BY dh.headline_id;
