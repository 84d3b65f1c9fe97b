//! RFC 3339 UTC timestamps (`2026-12-03T16:42:27Z`), as the CC writes
//! `created_at` and `updated_at`.
//!
//! A dozen lines of calendar arithmetic instead of a date crate. The fixed
//! width format also sorts as text in time order, which the store relies on.

use std::time::{SystemTime, UNIX_EPOCH};

/// The current time, RFC 3339 UTC, whole seconds.
pub fn now_rfc3339() -> String {
    format_rfc3339(SystemTime::now())
}

/// Format `time` as RFC 3339 UTC with whole seconds. Times before 1970 are
/// clamped to the epoch (cc-sim never makes them).
pub fn format_rfc3339(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (Howard Hinnant's `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        format_rfc3339(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn formats_known_instants() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_709_210_096), "2024-02-29T12:34:56Z");
        assert_eq!(at(1_796_316_147), "2026-12-03T16:42:27Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn text_order_is_time_order() {
        let earlier = at(1_700_000_000);
        let later = at(1_700_000_001);
        assert!(earlier < later);
        assert!(now_rfc3339().ends_with('Z'));
    }
}
