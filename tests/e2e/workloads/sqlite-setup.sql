-- cpuport e2e: state built by the sqlite3 "server" before the checkpoint (in-memory database).
CREATE TABLE t(i INTEGER PRIMARY KEY, k TEXT, v TEXT);
WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
INSERT INTO t
  SELECT i,
         printf('key-%06d-%s', (i * 7919) % 100003, substr('abcdefghijklmnopqrstuvwxyz', 1 + i % 26)),
         replace(substr(hex(zeroblob(200)), 1, 1 + i % 300), '0', 'v') || lower(hex(i * i))
  FROM c;
CREATE INDEX tk ON t(k);
CREATE TABLE log(n INTEGER, note TEXT);
