-- AutoLogging for SQL Server, script 3 of 3: reporting views.
--
-- The views show the blind indexes (*_idx), never ciphertext: a user is the same 32 hex
-- digits in every row, and `autologging` on the agent's machine can say whose they are.
-- Days and hours are local to the zone in autologging.report_settings (a Windows time zone
-- name, as listed in sys.time_zone_info), 'UTC' until a DBA sets it:
--   UPDATE autologging.report_settings SET time_zone = N'Korea Standard Time';

SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO

IF OBJECT_ID(N'autologging.report_settings', N'U') IS NULL
  CREATE TABLE autologging.report_settings (
    id tinyint NOT NULL CONSTRAINT pk_report_settings PRIMARY KEY
      CONSTRAINT ck_report_settings_one_row CHECK (id = 1),
    time_zone sysname NOT NULL
  );
GO

IF NOT EXISTS (SELECT 1 FROM autologging.report_settings)
  INSERT INTO autologging.report_settings (id, time_zone) VALUES (1, N'UTC');
GO

-- One row per session, with its local start day and its durations in seconds. A session
-- still open counts until now; a failed one has no duration.
CREATE OR ALTER VIEW autologging.v_sessions
AS
SELECT
  s.id, s.source, s.user_idx, s.domain, s.full_name_idx, s.machine, s.delivery_group,
  s.client_name_idx, s.client_address_idx, s.client_version, s.protocol, s.session_type,
  s.state, s.failure_code, s.failure_reason,
  s.start_at, s.end_at, s.span_start, s.span_end,
  CAST(s.span_start AT TIME ZONE 'UTC' AT TIME ZONE z.time_zone AS datetime2(3)) AS start_local,
  CAST(CAST(s.span_start AT TIME ZONE 'UTC' AT TIME ZONE z.time_zone AS datetime2(3)) AS date)
    AS start_day,
  CASE WHEN s.start_at IS NULL OR s.state = 'Failed' THEN NULL
       ELSE DATEDIFF_BIG(second, s.start_at, COALESCE(s.end_at, s.span_end, SYSUTCDATETIME()))
  END AS duration_s,
  CAST(s.logon_duration_ms / 1000.0 AS decimal(18, 3)) AS logon_s,
  CAST(CASE WHEN s.span_end IS NULL THEN 1 ELSE 0 END AS bit) AS is_open
FROM autologging.sessions AS s
CROSS APPLY (
  SELECT COALESCE((SELECT TOP (1) time_zone FROM autologging.report_settings WHERE id = 1), N'UTC')
    AS time_zone
) AS z;
GO

-- Every session start (+1) and end (-1) per source, in time order, with the number of
-- sessions open just after it and the highest number open at that instant (before an end,
-- after a start). A bucket's peak is the highest of its changes' sessions_highest.
CREATE OR ALTER VIEW autologging.v_concurrency_changes
AS
WITH changes AS (
  SELECT s.source, s.start_at AS at, 1 AS delta
  FROM autologging.sessions AS s
  WHERE s.start_at IS NOT NULL AND s.state <> 'Failed'
  UNION ALL
  SELECT s.source, COALESCE(s.end_at, s.span_end), -1
  FROM autologging.sessions AS s
  WHERE s.start_at IS NOT NULL AND s.state <> 'Failed'
    AND COALESCE(s.end_at, s.span_end) IS NOT NULL
), counted AS (
  SELECT c.source, c.at, c.delta,
    SUM(c.delta) OVER (PARTITION BY c.source ORDER BY c.at, c.delta
                       ROWS UNBOUNDED PRECEDING) AS sessions_after
  FROM changes AS c
)
SELECT k.source, k.at, k.delta, k.sessions_after,
  k.sessions_after - CASE WHEN k.delta < 0 THEN k.delta ELSE 0 END AS sessions_highest,
  CAST(k.at AT TIME ZONE 'UTC' AT TIME ZONE z.time_zone AS datetime2(3)) AS at_local
FROM counted AS k
CROSS APPLY (
  SELECT COALESCE((SELECT TOP (1) time_zone FROM autologging.report_settings WHERE id = 1), N'UTC')
    AS time_zone
) AS z;
GO

-- The most sessions open at once, per source and local day. Days without any start or end
-- are absent (their peak is the count left by the day before).
CREATE OR ALTER VIEW autologging.v_peak_concurrency_daily
AS
SELECT c.source, CAST(c.at_local AS date) AS day, MAX(c.sessions_highest) AS peak_sessions
FROM autologging.v_concurrency_changes AS c
GROUP BY c.source, CAST(c.at_local AS date);
GO

-- The same per local hour.
CREATE OR ALTER VIEW autologging.v_peak_concurrency_hourly
AS
SELECT c.source, CAST(c.at_local AS date) AS day, DATEPART(hour, c.at_local) AS hour,
  MAX(c.sessions_highest) AS peak_sessions
FROM autologging.v_concurrency_changes AS c
GROUP BY c.source, CAST(c.at_local AS date), DATEPART(hour, c.at_local);
GO

-- Per user (blind index) and local month: sessions, failures, hours connected, mean logon
-- time, distinct client devices.
CREATE OR ALTER VIEW autologging.v_usage_by_user
AS
SELECT v.source, v.domain, v.user_idx,
  DATEFROMPARTS(YEAR(v.start_day), MONTH(v.start_day), 1) AS month,
  COUNT(*) AS sessions,
  SUM(CASE WHEN v.state = 'Failed' THEN 1 ELSE 0 END) AS failed_sessions,
  CAST(SUM(CAST(v.duration_s AS decimal(19, 0))) / 3600.0 AS decimal(19, 2)) AS session_hours,
  CAST(AVG(v.logon_s) AS decimal(18, 3)) AS avg_logon_s,
  COUNT(DISTINCT v.client_name_idx) AS clients,
  MIN(v.span_start) AS first_start_at,
  MAX(v.span_start) AS last_start_at
FROM autologging.v_sessions AS v
WHERE v.user_idx IS NOT NULL
GROUP BY v.source, v.domain, v.user_idx, DATEFROMPARTS(YEAR(v.start_day), MONTH(v.start_day), 1);
GO

-- Failed sessions per local day, delivery group and reason (Citrix SessionFailureCode).
CREATE OR ALTER VIEW autologging.v_failures_by_reason
AS
SELECT v.source, v.start_day AS day, v.delivery_group, v.failure_code,
  COALESCE(v.failure_reason, N'(unknown)') AS failure_reason,
  COUNT(*) AS failures,
  COUNT(DISTINCT v.user_idx) AS users,
  COUNT(DISTINCT v.machine) AS machines
FROM autologging.v_sessions AS v
WHERE v.state = 'Failed' OR v.failure_code IS NOT NULL
GROUP BY v.source, v.start_day, v.delivery_group, v.failure_code,
  COALESCE(v.failure_reason, N'(unknown)');
GO

-- The agents' jobs with their duration.
CREATE OR ALTER VIEW autologging.v_runs
AS
SELECT r.agent, r.run_id, r.job, r.kind, r.source, r.triggered_by, r.outcome,
  r.error_code, r.error_message, r.started_at, r.ended_at,
  DATEDIFF_BIG(millisecond, r.started_at, r.ended_at) AS duration_ms,
  r.records_in, r.records_new, r.records_updated
FROM autologging.runs AS r;
GO

GRANT SELECT ON autologging.v_sessions TO autologging_reader;
GRANT SELECT ON autologging.v_concurrency_changes TO autologging_reader;
GRANT SELECT ON autologging.v_peak_concurrency_daily TO autologging_reader;
GRANT SELECT ON autologging.v_peak_concurrency_hourly TO autologging_reader;
GRANT SELECT ON autologging.v_usage_by_user TO autologging_reader;
GRANT SELECT ON autologging.v_failures_by_reason TO autologging_reader;
GRANT SELECT ON autologging.v_runs TO autologging_reader;
GO

IF NOT EXISTS (SELECT 1 FROM autologging.schema_version WHERE version = 3)
  INSERT INTO autologging.schema_version (version, script) VALUES (3, N'003-views.sql');
GO
