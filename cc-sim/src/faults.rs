//! Fault switches: ways to make cc-sim misbehave like a real CC can, so the
//! orphan check and `purge-orphan` are tested against real failures.
//!
//! - `skip_save_next_instance` / `skip_save_next_binding`: the next create
//!   calls the broker (which succeeds) and then loses the record, leaving an
//!   orphan on the node exactly as a CC crash would. One-shot.
//! - `fail_list_page: N`: every instance or binding list request for page `N`
//!   answers 500 until cleared with `null`.
//! - `understate_total_results`: instance and binding lists report
//!   `total_results` one less than the truth (pages and `next` links stay
//!   true), so a client can be tested for noticing a list that does not add up.

use std::sync::Mutex;

use serde::{Deserialize, Deserializer, Serialize};

/// The switches as `GET /sim/faults` shows them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultSwitches {
    pub skip_save_next_instance: bool,
    pub skip_save_next_binding: bool,
    pub fail_list_page: Option<u32>,
    pub understate_total_results: bool,
}

/// A `PUT /sim/faults` body: absent fields leave a switch unchanged;
/// `"fail_list_page": null` clears that switch.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultUpdate {
    pub skip_save_next_instance: Option<bool>,
    pub skip_save_next_binding: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    pub fail_list_page: Option<Option<u32>>,
    pub understate_total_results: Option<bool>,
}

/// Tell "absent" (`None`, via `default`) from "null" (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The live switches, shared by all requests.
#[derive(Debug, Default)]
pub struct Faults {
    switches: Mutex<FaultSwitches>,
}

impl Faults {
    pub fn current(&self) -> FaultSwitches {
        self.lock().clone()
    }

    /// Apply an update and return the switches as they now are.
    pub fn apply(&self, update: FaultUpdate) -> FaultSwitches {
        let mut switches = self.lock();
        if let Some(v) = update.skip_save_next_instance {
            switches.skip_save_next_instance = v;
        }
        if let Some(v) = update.skip_save_next_binding {
            switches.skip_save_next_binding = v;
        }
        if let Some(v) = update.fail_list_page {
            switches.fail_list_page = v;
        }
        if let Some(v) = update.understate_total_results {
            switches.understate_total_results = v;
        }
        switches.clone()
    }

    /// Whether to lose the instance record just provisioned; resets the switch.
    pub fn take_skip_save_instance(&self) -> bool {
        std::mem::take(&mut self.lock().skip_save_next_instance)
    }

    /// Whether to lose the binding record just bound; resets the switch.
    pub fn take_skip_save_binding(&self) -> bool {
        std::mem::take(&mut self.lock().skip_save_next_binding)
    }

    /// Whether a list request for `page` must fail.
    pub fn list_page_fails(&self, page: u64) -> bool {
        self.lock()
            .fail_list_page
            .is_some_and(|n| u64::from(n) == page)
    }

    /// The `total_results` to report for a list whose true total is `total`.
    pub fn reported_total(&self, total: u64) -> u64 {
        if self.lock().understate_total_results {
            total.saturating_sub(1)
        } else {
            total
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultSwitches> {
        // The switches are plain values: a panic elsewhere cannot break them.
        self.switches.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(json: &str) -> FaultUpdate {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn all_off_by_default() {
        let faults = Faults::default();
        assert_eq!(faults.current(), FaultSwitches::default());
        assert!(!faults.take_skip_save_instance());
        assert!(!faults.take_skip_save_binding());
        assert!(!faults.list_page_fails(1));
        assert_eq!(faults.reported_total(5), 5);
    }

    #[test]
    fn skip_save_switches_are_one_shot() {
        let faults = Faults::default();
        faults.apply(update(r#"{"skip_save_next_instance": true}"#));
        assert!(faults.current().skip_save_next_instance);
        assert!(
            !faults.take_skip_save_binding(),
            "only the instance switch was set"
        );
        assert!(faults.take_skip_save_instance());
        assert!(!faults.take_skip_save_instance());
        assert!(!faults.current().skip_save_next_instance);

        faults.apply(update(r#"{"skip_save_next_binding": true}"#));
        assert!(faults.take_skip_save_binding());
        assert!(!faults.take_skip_save_binding());
    }

    #[test]
    fn absent_fields_are_unchanged_and_null_clears_the_page() {
        let faults = Faults::default();
        let now = faults.apply(update(
            r#"{"fail_list_page": 2, "understate_total_results": true}"#,
        ));
        assert_eq!(now.fail_list_page, Some(2));
        assert!(faults.list_page_fails(2));
        assert!(!faults.list_page_fails(1));
        assert_eq!(faults.reported_total(5), 4);
        assert_eq!(faults.reported_total(0), 0);

        let now = faults.apply(update(r#"{"skip_save_next_binding": true}"#));
        assert_eq!(now.fail_list_page, Some(2), "absent: unchanged");
        assert!(now.understate_total_results, "absent: unchanged");

        let now = faults.apply(update(r#"{"fail_list_page": null}"#));
        assert_eq!(now.fail_list_page, None);
        assert!(now.skip_save_next_binding);
        assert!(!faults.list_page_fails(2));
    }

    #[test]
    fn unknown_or_mistyped_fields_are_rejected() {
        assert!(
            serde_json::from_str::<FaultUpdate>(r#"{"skip_save_next_instanse": true}"#).is_err()
        );
        assert!(serde_json::from_str::<FaultUpdate>(r#"{"fail_list_page": -1}"#).is_err());
        assert!(
            serde_json::from_str::<FaultUpdate>(r#"{"understate_total_results": "yes"}"#).is_err()
        );
    }
}
