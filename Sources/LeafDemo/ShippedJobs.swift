/// The job files a leafplanner deployment needs; `jobs/` in the repository holds the same
/// files (a test keeps them identical).
public enum ShippedJobs {
    /// Each shipped job file's name and text, as `jobs/` holds them.
    public static let files: [(name: String, text: String)] = [
        (
            "daily-compliance.yml",
            """
            # Every morning: scan accounts for MFA, password-policy and access compliance, then
            # write the posture report that maps each promise to its evidence.
            name: daily-compliance
            description: Compliance scan and posture report.
            schedule: "0 6 * * *"
            timezone: UTC
            timeout: 1h
            retries: 1
            retry_backoff: 15m
            steps:
              - scan: {out: reports/compliance, formats: [json, csv, html, md]}
              - report: {out: reports/posture, formats: [json, html, md]}
            """
        ),
        (
            "hourly-activity-seal.yml",
            """
            # Every hour: seal the planner's new activity-log rows into a signed hash chain, so
            # any later edit, deletion or insertion among sealed rows is detected.
            name: hourly-activity-seal
            description: Seal new activity-log rows.
            schedule: "5 * * * *"
            timezone: UTC
            # Sealing covers every row added since the last seal, so a missed hour is simply
            # included in the next one.
            catch_up: none
            timeout: 30m
            steps:
              - seal-activity
            """
        ),
        (
            "nightly-backup.yml",
            """
            # Every night: snapshot the planner data into the primary region, copy it to the
            # backup region, then check structure and authenticate a 5 % sample of the data.
            name: nightly-backup
            description: Snapshot planner data, replicate it to the backup region, verify it.
            schedule: "30 2 * * *"
            timezone: UTC
            # A night the machine was off is caught up once at the next tick, up to noon; a run
            # that fails (a region unreachable) is retried after 10 and 20 minutes.
            catch_up: latest
            starting_deadline: 10h
            timeout: 6h
            retries: 2
            retry_backoff: 10m
            steps:
              - backup
              - replicate: {to: backup}
              - verify: {read_data: 5}
            """
        ),
        (
            "quarterly-key-rotation.yml",
            """
            # First day of each quarter: a new master-key version becomes active and every data
            # key is re-wrapped under it. The old version stays decrypt-only for the grace period.
            name: quarterly-key-rotation
            description: Rotate the master key and re-wrap every data key.
            schedule: "0 3 1 jan,apr,jul,oct *"
            timezone: UTC
            starting_deadline: 7d
            timeout: 12h
            retries: 3
            retry_backoff: 1h
            steps:
              - rotate-keys: {grace_days: 30}
            """
        ),
        (
            "weekly-prune.yml",
            """
            # Every Sunday: forget snapshots that no retention rule keeps, in both regions.
            name: weekly-prune
            description: Apply the retention policy and remove data no kept snapshot needs.
            schedule: "0 4 * * sun"
            timezone: UTC
            starting_deadline: 1d
            timeout: 4h
            steps:
              - prune: {keep_last: 3, keep_daily: 14, keep_weekly: 8, keep_monthly: 12, keep_yearly: 7}
            """
        ),
        (
            "weekly-restore-drill.yml",
            """
            # Every Saturday: restore the latest snapshot of one region into a scratch folder and
            # check every document and the database, recording the recovery time achieved. Regions
            # take turns (alternate), so with two regions each is drilled every other week.
            name: weekly-restore-drill
            description: Restore drill, alternating regions; records the recovery time achieved.
            schedule: "0 5 * * sat"
            timezone: UTC
            starting_deadline: 1d
            timeout: 6h
            steps:
              - restore-drill: {region: alternate, snapshot: latest}
            """
        ),
    ]
}
