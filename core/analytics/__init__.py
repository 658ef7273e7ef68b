"""Campaign analytics: metric definitions, the DuckDB warehouse, reports and exports.

    metrics     every metric defined once (words and Polars); docs/metrics.md explains them
    rollups     pure Polars functions: message facts and the engagement tables
    extract     the operational database (SQLite or PostgreSQL) into Arrow batches
    warehouse   the DuckDB files: working file, writer lock, atomic publish, readers
    refresh     incremental load, rebuild and publish (the Dagster assets' steps)
    reconcile   the checks that the warehouse agrees with the operational database
    report      one campaign's metrics, timeline and engagement (warehouse, else live)
    messages    one campaign's messages, failures and replies, live
    export      report and tracking data as CSV, XLSX and Parquet

The REST API, the Streamlit page, the Dagster assets and the CLI all call these; the
permission checks (``analytics:read``) happen here.
"""
