-- Views for analysts, stored in the lake's catalog (docs/warehouse.md).

-- headlines: one row per distinct headline_key across all drops, derived on read
-- from drop_headlines, so no run rewrites its history. "First seen" is by the
-- drop's file time; ties break on drop_id and position so that a rebuild gives
-- the same text.
CREATE OR REPLACE VIEW headlines AS
SELECT
    dh.headline_id,
    first(dh.text ORDER BY d.received_at, d.drop_id, dh.position) AS text,
    min(d.received_at) AS first_seen_at,
    max(d.received_at) AS last_seen_at,
    count(DISTINCT dh.drop_id) AS drop_count
FROM drop_headlines AS dh
JOIN drops AS d USING (drop_id)
GROUP BY dh.headline_id;

CREATE OR REPLACE VIEW headline_trends AS
SELECT
    h.headline_id,
    h.text,
    h.first_seen_at,
    h.last_seen_at,
    h.drop_count,
    h.drop_count / greatest(1, date_diff('day', h.first_seen_at::DATE, h.last_seen_at::DATE) + 1) AS drops_per_day
FROM headlines AS h;

CREATE OR REPLACE VIEW article_headlines AS
SELECT
    a.article_id,
    a.drop_id,
    d.file_name,
    a.title,
    list(dh.text ORDER BY dh.position) FILTER (WHERE dh.text IS NOT NULL) AS headlines
FROM articles AS a
JOIN drops AS d USING (drop_id)
LEFT JOIN drop_headlines AS dh USING (drop_id)
GROUP BY a.article_id, a.drop_id, d.file_name, a.title;

CREATE OR REPLACE VIEW daily_ingest AS
WITH accepted AS (
    SELECT d.ingested_at::DATE AS day, count(*) AS drops, count(a.article_id) AS articles
    FROM drops AS d LEFT JOIN articles AS a USING (drop_id)
    GROUP BY ALL
), rejected AS (
    SELECT rejected_at::DATE AS day, count(*) AS rejects FROM rejected_drops GROUP BY ALL
)
SELECT
    coalesce(accepted.day, rejected.day) AS day,
    coalesce(accepted.drops, 0) AS drops,
    coalesce(accepted.articles, 0) AS articles,
    coalesce(rejected.rejects, 0) AS rejects
FROM accepted FULL OUTER JOIN rejected USING (day)
ORDER BY day;

CREATE OR REPLACE VIEW duplicate_articles AS
SELECT
    a.body_key,
    count(*) AS copies,
    list(a.article_id ORDER BY d.received_at, a.article_id) AS article_ids,
    list(d.file_name ORDER BY d.received_at, a.article_id) AS file_names
FROM articles AS a
JOIN drops AS d USING (drop_id)
GROUP BY a.body_key
HAVING count(*) > 1;

-- near_duplicates: every loaded drop's cluster of near-duplicate article bodies (issue 34;
-- maintained batch by batch in the similarity schema, warehouse/near_duplicates.py). Exact
-- copies share a body; a cluster's id is its first body's number, its first drop the one that
-- first had that body. A drop alone in its cluster is a cluster of one. Drops taken in by a
-- newsdrop from before near-duplicates have NULLs here until `newsdrop rebuild`.
CREATE OR REPLACE VIEW near_duplicates AS
SELECT
    a.drop_id,
    c.cluster_id,
    c.similarity,
    f.drop_id AS first_drop_id
FROM articles AS a
LEFT JOIN similarity.body_signatures AS s USING (body_key)
LEFT JOIN similarity.body_clusters AS c USING (body_number)
LEFT JOIN similarity.body_signatures AS f ON f.body_number = c.cluster_id;

-- near_duplicate_clusters: the clusters of more than one drop, largest first.
CREATE OR REPLACE VIEW near_duplicate_clusters AS
SELECT
    n.cluster_id,
    any_value(n.first_drop_id) AS first_drop_id,
    any_value(first.title) AS first_title,
    count(*) AS drops,
    count(DISTINCT a.body_key) AS versions,
    min(n.similarity) AS least_similarity,
    min(d.received_at) AS first_received_at,
    max(d.received_at) AS last_received_at
FROM near_duplicates AS n
JOIN articles AS a USING (drop_id)
JOIN drops AS d USING (drop_id)
JOIN articles AS first ON first.drop_id = n.first_drop_id
WHERE n.cluster_id IS NOT NULL
GROUP BY n.cluster_id
HAVING count(*) > 1
ORDER BY drops DESC, n.cluster_id;
