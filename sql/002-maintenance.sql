-- AutoLogging for SQL Server, script 2 of 3: maintenance procedures.
--
--   EXEC autologging.maintain;                          -- daily, e.g. from a SQL Agent job
--   EXEC autologging.maintain @retention_years = 5;
--   EXEC autologging.partition_status;                  -- boundaries and rows per year
--
-- The agent runs the same plan itself (`autologging db maintain`, and on its maintenance
-- schedule) through split_year and remove_before. Neither ever moves a row: a year is added
-- only while its partition is empty, and removed by TRUNCATE, then MERGE of empty partitions.
-- The procedures run as their owner (dbo), so the agent's login needs only EXECUTE on them.

SET ANSI_NULLS ON;
SET QUOTED_IDENTIFIER ON;
GO

-- Adds the boundary @boundary (1 January 00:00 UTC of a year). Does nothing when it exists.
-- Refuses with error 50001 when rows already lie at or after it in the partition it would
-- split, since splitting would then move them.
CREATE OR ALTER PROCEDURE autologging.split_year
  @boundary datetime2(3)
WITH EXECUTE AS OWNER
AS
BEGIN
  SET NOCOUNT ON;
  SET XACT_ABORT ON;
  SET DEADLOCK_PRIORITY HIGH;

  IF @boundary IS NULL OR @boundary <> DATEFROMPARTS(YEAR(@boundary), 1, 1)
    THROW 50000, N'split_year: @boundary must be 1 January 00:00 of a year (UTC).', 1;

  DECLARE @function_id int =
    (SELECT function_id FROM sys.partition_functions WHERE name = N'autologging_year_pf');
  IF EXISTS (SELECT 1 FROM sys.partition_range_values
             WHERE function_id = @function_id AND CAST(value AS datetime2(3)) = @boundary)
    RETURN 0;

  DECLARE @upper datetime2(3) =
    (SELECT MIN(CAST(value AS datetime2(3))) FROM sys.partition_range_values
     WHERE function_id = @function_id AND CAST(value AS datetime2(3)) > @boundary);
  DECLARE @filegroup sysname =
    (SELECT fg.name
     FROM sys.partition_schemes AS ps
     JOIN sys.destination_data_spaces AS dds ON dds.partition_scheme_id = ps.data_space_id
     JOIN sys.filegroups AS fg ON fg.data_space_id = dds.data_space_id
     WHERE ps.name = N'autologging_year_ps'
       AND dds.destination_id = $PARTITION.autologging_year_pf(@boundary));
  DECLARE @next_used nvarchar(max) =
    N'ALTER PARTITION SCHEME autologging_year_ps NEXT USED ' + QUOTENAME(@filegroup) + N';';

  BEGIN TRY
    BEGIN TRANSACTION;
    -- The range locks keep rows out of the new partition until the split is done.
    IF EXISTS (SELECT 1 FROM autologging.sessions WITH (UPDLOCK, HOLDLOCK)
               WHERE span_start >= @boundary AND (@upper IS NULL OR span_start < @upper))
       OR EXISTS (SELECT 1 FROM autologging.events WITH (UPDLOCK, HOLDLOCK)
                  WHERE at >= @boundary AND (@upper IS NULL OR at < @upper))
       OR EXISTS (SELECT 1 FROM autologging.host_load WITH (UPDLOCK, HOLDLOCK)
                  WHERE at >= @boundary AND (@upper IS NULL OR at < @upper))
       OR EXISTS (SELECT 1 FROM autologging.runs WITH (UPDLOCK, HOLDLOCK)
                  WHERE started_at >= @boundary AND (@upper IS NULL OR started_at < @upper))
       OR EXISTS (SELECT 1 FROM autologging.audit WITH (UPDLOCK, HOLDLOCK)
                  WHERE at >= @boundary AND (@upper IS NULL OR at < @upper))
      THROW 50001,
        N'split_year: rows already lie at or after this boundary; splitting would move them.', 1;

    -- After each split no filegroup is marked NEXT USED any more: mark one every time.
    EXEC sys.sp_executesql @next_used;
    ALTER PARTITION FUNCTION autologging_year_pf() SPLIT RANGE (@boundary);
    COMMIT TRANSACTION;
  END TRY
  BEGIN CATCH
    IF XACT_STATE() <> 0 ROLLBACK TRANSACTION;
    THROW;
  END CATCH;
  RETURN 0;
END;
GO

-- Removes every row before @boundary (an existing boundary at or before 1 January of the
-- year @retention_years before @now's), then merges away the boundaries below it. Rows go by
-- TRUNCATE of whole partitions; each MERGE joins two empty partitions. Returns the merged
-- boundaries. @retention_years is at least 3; @now defaults to the current UTC time.
CREATE OR ALTER PROCEDURE autologging.remove_before
  @boundary datetime2(3),
  @retention_years int = 3,
  @now datetime2(3) = NULL
WITH EXECUTE AS OWNER
AS
BEGIN
  SET NOCOUNT ON;
  SET XACT_ABORT ON;
  SET DEADLOCK_PRIORITY HIGH;

  IF @retention_years IS NULL OR @retention_years < 3
    THROW 50002, N'remove_before: @retention_years must be at least 3.', 1;
  SET @now = COALESCE(@now, SYSUTCDATETIME());
  DECLARE @keep_from datetime2(3) = DATEFROMPARTS(YEAR(@now) - @retention_years, 1, 1);
  IF @boundary IS NULL OR @boundary > @keep_from
    THROW 50003, N'remove_before: @boundary lies inside the retention period.', 1;

  DECLARE @function_id int =
    (SELECT function_id FROM sys.partition_functions WHERE name = N'autologging_year_pf');
  IF NOT EXISTS (SELECT 1 FROM sys.partition_range_values
                 WHERE function_id = @function_id AND CAST(value AS datetime2(3)) = @boundary)
    THROW 50004, N'remove_before: @boundary is not a boundary of autologging_year_pf.', 1;

  -- Partitions 1 .. n hold everything before @boundary.
  DECLARE @n int = $PARTITION.autologging_year_pf(@boundary) - 1;
  DECLARE @partitions nvarchar(40) =
    CASE WHEN @n = 1 THEN N'1' ELSE N'1 TO ' + CAST(@n AS nvarchar(10)) END;
  DECLARE @truncate nvarchar(max) =
    N'TRUNCATE TABLE autologging.sessions WITH (PARTITIONS (' + @partitions + N'));'
    + N'TRUNCATE TABLE autologging.events WITH (PARTITIONS (' + @partitions + N'));'
    + N'TRUNCATE TABLE autologging.host_load WITH (PARTITIONS (' + @partitions + N'));'
    + N'TRUNCATE TABLE autologging.runs WITH (PARTITIONS (' + @partitions + N'));'
    + N'TRUNCATE TABLE autologging.audit WITH (PARTITIONS (' + @partitions + N'));';
  DECLARE @merged TABLE (boundary datetime2(3) NOT NULL);
  DECLARE @merge datetime2(3);

  BEGIN TRY
    BEGIN TRANSACTION;
    IF EXISTS (SELECT 1 FROM autologging.sessions WHERE span_start < @boundary)
       OR EXISTS (SELECT 1 FROM autologging.events WHERE at < @boundary)
       OR EXISTS (SELECT 1 FROM autologging.host_load WHERE at < @boundary)
       OR EXISTS (SELECT 1 FROM autologging.runs WHERE started_at < @boundary)
       OR EXISTS (SELECT 1 FROM autologging.audit WHERE at < @boundary)
      EXEC sys.sp_executesql @truncate;

    WHILE 1 = 1
    BEGIN
      SET @merge = (SELECT MIN(CAST(value AS datetime2(3))) FROM sys.partition_range_values
                    WHERE function_id = @function_id AND CAST(value AS datetime2(3)) < @boundary);
      IF @merge IS NULL BREAK;
      ALTER PARTITION FUNCTION autologging_year_pf() MERGE RANGE (@merge);
      INSERT INTO @merged (boundary) VALUES (@merge);
    END;
    COMMIT TRANSACTION;
  END TRY
  BEGIN CATCH
    IF XACT_STATE() <> 0 ROLLBACK TRANSACTION;
    THROW;
  END CATCH;

  SELECT boundary FROM @merged ORDER BY boundary;
  RETURN 0;
END;
GO

-- The whole plan, for a SQL Agent job: add 1 January of every year after the last boundary
-- up to two years ahead (a year that already holds rows is reported and left alone), then
-- remove what is older than @retention_years whole years before the current one. It runs as
-- its owner too: the partition metadata it reads is not visible to a plain login.
CREATE OR ALTER PROCEDURE autologging.maintain
  @retention_years int = 3,
  @now datetime2(3) = NULL
WITH EXECUTE AS OWNER
AS
BEGIN
  SET NOCOUNT ON;

  IF @retention_years IS NULL OR @retention_years < 3
    THROW 50002, N'maintain: @retention_years must be at least 3.', 1;
  SET @now = COALESCE(@now, SYSUTCDATETIME());

  DECLARE @function_id int =
    (SELECT function_id FROM sys.partition_functions WHERE name = N'autologging_year_pf');
  DECLARE @last datetime2(3) =
    (SELECT MAX(CAST(value AS datetime2(3))) FROM sys.partition_range_values
     WHERE function_id = @function_id);
  DECLARE @year int = CASE WHEN @last IS NULL THEN YEAR(@now) + 1 ELSE YEAR(@last) + 1 END;
  DECLARE @boundary datetime2(3);
  DECLARE @message nvarchar(400);

  WHILE @year <= YEAR(@now) + 2
  BEGIN
    SET @boundary = DATEFROMPARTS(@year, 1, 1);
    BEGIN TRY
      EXEC autologging.split_year @boundary = @boundary;
    END TRY
    BEGIN CATCH
      IF ERROR_NUMBER() <> 50001 THROW;
      SET @message = N'not split at ' + CONVERT(nvarchar(30), @boundary, 126) + N': '
        + ERROR_MESSAGE();
      PRINT @message;
    END CATCH;
    SET @year = @year + 1;
  END;

  DECLARE @keep_from datetime2(3) = DATEFROMPARTS(YEAR(@now) - @retention_years, 1, 1);
  DECLARE @clear_before datetime2(3) =
    (SELECT MAX(CAST(value AS datetime2(3))) FROM sys.partition_range_values
     WHERE function_id = @function_id AND CAST(value AS datetime2(3)) <= @keep_from);
  IF @clear_before IS NOT NULL
    EXEC autologging.remove_before
      @boundary = @clear_before, @retention_years = @retention_years, @now = @now;
  RETURN 0;
END;
GO

-- Two result sets: the boundaries in order, then one row per partition and table with its
-- row count (from sys.partitions) and its range [range_from, range_to), NULL meaning open.
CREATE OR ALTER PROCEDURE autologging.partition_status
WITH EXECUTE AS OWNER
AS
BEGIN
  SET NOCOUNT ON;
  DECLARE @function_id int =
    (SELECT function_id FROM sys.partition_functions WHERE name = N'autologging_year_pf');

  SELECT CAST(v.value AS datetime2(3)) AS boundary
  FROM sys.partition_range_values AS v
  WHERE v.function_id = @function_id
  ORDER BY v.boundary_id;

  SELECT p.partition_number, t.name AS table_name, p.rows AS row_count,
         CAST(lo.value AS datetime2(3)) AS range_from, CAST(hi.value AS datetime2(3)) AS range_to
  FROM sys.tables AS t
  JOIN sys.indexes AS i ON i.object_id = t.object_id AND i.index_id IN (0, 1)
  JOIN sys.partition_schemes AS ps
    ON ps.data_space_id = i.data_space_id AND ps.function_id = @function_id
  JOIN sys.partitions AS p ON p.object_id = i.object_id AND p.index_id = i.index_id
  LEFT JOIN sys.partition_range_values AS lo
    ON lo.function_id = @function_id AND lo.boundary_id = p.partition_number - 1
  LEFT JOIN sys.partition_range_values AS hi
    ON hi.function_id = @function_id AND hi.boundary_id = p.partition_number
  WHERE t.schema_id = SCHEMA_ID(N'autologging')
  ORDER BY p.partition_number, t.name;
END;
GO

IF NOT EXISTS (SELECT 1 FROM autologging.schema_version WHERE version = 2)
  INSERT INTO autologging.schema_version (version, script) VALUES (2, N'002-maintenance.sql');
GO
