-- AutoLogging for SQL Server, script 1 of 3: schema, yearly partitions, tables, roles.
--
-- Run against the AutoLogging database as a member of db_owner, for example:
--   sqlcmd -S dbserver -d AutoLogging -E -b -i 001-schema.sql
-- The agent runs the same script (`autologging db init`). Every statement looks before it
-- creates, so running it again changes nothing. SQL Server 2016 SP1 or newer, any edition.
--
-- Times are UTC, datetime2(3). Personal fields (user, full name, client name and address)
-- arrive encrypted by the agent: *_enc holds AES-256-GCM ciphertext and *_idx a keyed blind
-- index (32 hex digits) for exact-match grouping. Nothing in this database can decrypt them.

SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO

IF SCHEMA_ID(N'autologging') IS NULL
  EXEC (N'CREATE SCHEMA autologging AUTHORIZATION dbo;');
GO

-- The scripts applied: each script records its own version as its last statement.
IF OBJECT_ID(N'autologging.schema_version', N'U') IS NULL
  CREATE TABLE autologging.schema_version (
    version int NOT NULL CONSTRAINT pk_schema_version PRIMARY KEY,
    script nvarchar(128) NOT NULL,
    applied_at datetime2(3) NOT NULL
      CONSTRAINT df_schema_version_applied_at DEFAULT SYSUTCDATETIME()
  );
GO

-- One partition per UTC calendar year. RANGE RIGHT puts 1 January 00:00 into the year it
-- starts. The first boundaries reach three years back (anything older shares partition 1)
-- and two years ahead, so the last partition is empty: maintenance adds each new year there
-- before any row can arrive (autologging.split_year) and never has to move a row.
IF NOT EXISTS (SELECT 1 FROM sys.partition_functions WHERE name = N'autologging_year_pf')
BEGIN
  DECLARE @year int = YEAR(SYSUTCDATETIME()) - 3;
  DECLARE @last int = YEAR(SYSUTCDATETIME()) + 2;
  DECLARE @values nvarchar(max) = N'';
  WHILE @year <= @last
  BEGIN
    SET @values = @values + CASE WHEN @values = N'' THEN N'' ELSE N', ' END
      + N'''' + CAST(@year AS nvarchar(4)) + N'-01-01T00:00:00''';
    SET @year = @year + 1;
  END;
  DECLARE @sql nvarchar(max) = N'CREATE PARTITION FUNCTION autologging_year_pf (datetime2(3)) '
    + N'AS RANGE RIGHT FOR VALUES (' + @values + N');';
  EXEC sys.sp_executesql @sql;
END;
GO

IF NOT EXISTS (SELECT 1 FROM sys.partition_schemes WHERE name = N'autologging_year_ps')
  CREATE PARTITION SCHEME autologging_year_ps
    AS PARTITION autologging_year_pf ALL TO ([PRIMARY]);
GO

-- Identity and aligned keys. Every index of a partitioned table must be aligned (partitioned
-- on the same column) for TRUNCATE TABLE ... WITH (PARTITIONS ...) to work, and an aligned
-- unique index always includes the partition column. So "one row per id" cannot be enforced
-- across years: each table's unique key is (id, time). For events, host samples, runs and
-- audit entries the time of an id never changes, so (id, time) is the identity. A session's
-- span_start can move (its start becomes known later), so the agent finds a stored session
-- by id alone (the (id, span_start) index: one seek per partition) and updates span_start
-- with the rest of the row. Clustered keys lead with the time: new rows append at the end.

IF OBJECT_ID(N'autologging.sessions', N'U') IS NULL
  CREATE TABLE autologging.sessions (
    id char(32) NOT NULL,
    source nvarchar(64) NOT NULL,
    natural_key nvarchar(1000) NOT NULL,
    rev bigint NOT NULL,
    key_version int NOT NULL,
    user_enc varbinary(max) NULL,
    user_idx char(32) NULL,
    domain nvarchar(256) NULL,
    full_name_enc varbinary(max) NULL,
    full_name_idx char(32) NULL,
    machine nvarchar(256) NULL,
    delivery_group nvarchar(256) NULL,
    client_name_enc varbinary(max) NULL,
    client_name_idx char(32) NULL,
    client_address_enc varbinary(max) NULL,
    client_address_idx char(32) NULL,
    client_version nvarchar(64) NULL,
    protocol nvarchar(32) NULL,
    session_type varchar(16) NULL,
    start_at datetime2(3) NULL,
    end_at datetime2(3) NULL,
    logon_duration_ms bigint NULL,
    state varchar(32) NOT NULL,
    state_changed_at datetime2(3) NULL,
    failure_code bigint NULL,
    failure_reason nvarchar(1000) NULL,
    span_start datetime2(3) NOT NULL,
    span_end datetime2(3) NULL,
    first_seen_at datetime2(3) NOT NULL,
    updated_at datetime2(3) NOT NULL,
    forwarded_at datetime2(3) NOT NULL
      CONSTRAINT df_sessions_forwarded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_sessions PRIMARY KEY CLUSTERED (span_start, id)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (span_start),
    CONSTRAINT uq_sessions_identity UNIQUE NONCLUSTERED (id, span_start)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (span_start)
  ) ON autologging_year_ps (span_start);
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'autologging.sessions') AND name = N'ix_sessions_user')
  CREATE NONCLUSTERED INDEX ix_sessions_user ON autologging.sessions (user_idx, span_start)
    WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (span_start);
GO

IF OBJECT_ID(N'autologging.events', N'U') IS NULL
  CREATE TABLE autologging.events (
    id char(32) NOT NULL,
    source nvarchar(64) NOT NULL,
    natural_key nvarchar(1000) NOT NULL,
    rev bigint NOT NULL,
    key_version int NOT NULL,
    type varchar(16) NOT NULL,
    at datetime2(3) NOT NULL,
    user_enc varbinary(max) NULL,
    user_idx char(32) NULL,
    domain nvarchar(256) NULL,
    machine nvarchar(256) NULL,
    session_key nvarchar(256) NULL,
    client_name_enc varbinary(max) NULL,
    client_name_idx char(32) NULL,
    client_address_enc varbinary(max) NULL,
    client_address_idx char(32) NULL,
    code bigint NULL,
    detail nvarchar(2000) NULL,
    captured_at datetime2(3) NOT NULL,
    forwarded_at datetime2(3) NOT NULL
      CONSTRAINT df_events_forwarded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_events PRIMARY KEY CLUSTERED (at, id)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at),
    CONSTRAINT uq_events_identity UNIQUE NONCLUSTERED (id, at)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at)
  ) ON autologging_year_ps (at);
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'autologging.events') AND name = N'ix_events_user')
  CREATE NONCLUSTERED INDEX ix_events_user ON autologging.events (user_idx, at)
    WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at);
GO

IF OBJECT_ID(N'autologging.host_load', N'U') IS NULL
  CREATE TABLE autologging.host_load (
    id char(32) NOT NULL,
    source nvarchar(64) NOT NULL,
    natural_key nvarchar(1000) NOT NULL,
    rev bigint NOT NULL,
    host nvarchar(256) NOT NULL,
    at datetime2(3) NOT NULL,
    cpu_percent float NOT NULL,
    memory_used bigint NOT NULL,
    memory_total bigint NOT NULL,
    disk_used bigint NULL,
    disk_total bigint NULL,
    processes nvarchar(max) NULL,
    reason varchar(16) NOT NULL,
    trigger_code varchar(64) NULL,
    captured_at datetime2(3) NOT NULL,
    forwarded_at datetime2(3) NOT NULL
      CONSTRAINT df_host_load_forwarded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_host_load PRIMARY KEY CLUSTERED (at, id)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at),
    CONSTRAINT uq_host_load_identity UNIQUE NONCLUSTERED (id, at)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at)
  ) ON autologging_year_ps (at);
GO

IF NOT EXISTS (SELECT 1 FROM sys.indexes
               WHERE object_id = OBJECT_ID(N'autologging.host_load')
                 AND name = N'ix_host_load_host')
  CREATE NONCLUSTERED INDEX ix_host_load_host ON autologging.host_load (host, at)
    WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at);
GO

-- Jobs of each agent (captures, exports, maintenance), sent once finished. run_id is the
-- id in that agent's journal, so the identity is (agent, run_id, started_at).
IF OBJECT_ID(N'autologging.runs', N'U') IS NULL
  CREATE TABLE autologging.runs (
    agent nvarchar(128) NOT NULL,
    run_id bigint NOT NULL,
    job nvarchar(200) NOT NULL,
    kind varchar(32) NOT NULL,
    source nvarchar(64) NULL,
    triggered_by varchar(16) NOT NULL,
    started_at datetime2(3) NOT NULL,
    ended_at datetime2(3) NULL,
    records_in bigint NOT NULL,
    records_new bigint NOT NULL,
    records_updated bigint NOT NULL,
    outcome varchar(16) NOT NULL,
    error_code varchar(64) NULL,
    error_message nvarchar(2000) NULL,
    forwarded_at datetime2(3) NOT NULL
      CONSTRAINT df_runs_forwarded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_runs PRIMARY KEY CLUSTERED (started_at, agent, run_id)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (started_at),
    CONSTRAINT uq_runs_identity UNIQUE NONCLUSTERED (agent, run_id, started_at)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (started_at)
  ) ON autologging_year_ps (started_at);
GO

-- Every decrypt, export and settings change an agent recorded. The actor is personal.
IF OBJECT_ID(N'autologging.audit', N'U') IS NULL
  CREATE TABLE autologging.audit (
    id char(32) NOT NULL,
    agent nvarchar(128) NOT NULL,
    rev bigint NOT NULL,
    at datetime2(3) NOT NULL,
    action varchar(32) NOT NULL,
    actor_enc varbinary(max) NULL,
    actor_idx char(32) NULL,
    subject nvarchar(400) NULL,
    detail nvarchar(2000) NULL,
    forwarded_at datetime2(3) NOT NULL
      CONSTRAINT df_audit_forwarded_at DEFAULT SYSUTCDATETIME(),
    CONSTRAINT pk_audit PRIMARY KEY CLUSTERED (at, id)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at),
    CONSTRAINT uq_audit_identity UNIQUE NONCLUSTERED (id, at)
      WITH (DATA_COMPRESSION = PAGE) ON autologging_year_ps (at)
  ) ON autologging_year_ps (at);
GO

-- Where each agent's forwarder stands in its journal. It is written in the same transaction
-- as each batch, so a batch and its cursor are stored together or not at all.
IF OBJECT_ID(N'autologging.forwarder_state', N'U') IS NULL
  CREATE TABLE autologging.forwarder_state (
    agent nvarchar(128) NOT NULL CONSTRAINT pk_forwarder_state PRIMARY KEY,
    journal_rev bigint NOT NULL,
    runs_after bigint NOT NULL,
    journal_last_rev bigint NOT NULL,
    batches bigint NOT NULL,
    records bigint NOT NULL,
    updated_at datetime2(3) NOT NULL
  );
GO

-- autologging_writer: the agent's login at run time (load, merge, maintenance procedures).
-- autologging_reader: reports; SELECT on the views only (granted in 003-views.sql).
IF DATABASE_PRINCIPAL_ID(N'autologging_writer') IS NULL
  CREATE ROLE autologging_writer AUTHORIZATION dbo;
GO

IF DATABASE_PRINCIPAL_ID(N'autologging_reader') IS NULL
  CREATE ROLE autologging_reader AUTHORIZATION dbo;
GO

GRANT SELECT, INSERT, UPDATE, EXECUTE ON SCHEMA::autologging TO autologging_writer;
GO

IF NOT EXISTS (SELECT 1 FROM autologging.schema_version WHERE version = 1)
  INSERT INTO autologging.schema_version (version, script) VALUES (1, N'001-schema.sql');
GO
