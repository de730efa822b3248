//! Delta beacons (`wire::Delta`) turned back into whole beacons at the edge.
//!
//! Why here and not in the writer: a delta is only an encoding. Resolving it
//! against the stored beacon of its view, in the request's task and before the
//! writer, gives the writer, the rollups and every reader the same whole
//! [`Beacon`] the plugin would have sent, so nothing past ingest knows deltas
//! exist. It is exact because a delta applies only to the beacon whose `seq` is
//! its base; a race with another request of the same view cannot change that
//! stored beacon into another one with the same `seq`.
//!
//! Per delta: stored `seq` ≥ the delta's: stale, skipped (as a whole beacon would
//! be); stored `seq` = its base: resolved, then validated like any beacon; no
//! stored view, or another `seq`: 409, the whole batch refused, and the plugin
//! sends those views whole.

use axum::http::StatusCode;
use vidpulse_plugin::wire::Batch;

use crate::error::ApiError;
use crate::ingest::{validate_beacon, Limits};
use crate::store::Store;

/// Replaces `batch.d` by the whole beacons it stands for (appended to
/// `batch.beacons`); answers how many were stale. A batch without a viewer takes
/// the stored one of its views. Reads the store: call from a blocking thread.
pub fn resolve(store: &Store, batch: &mut Batch, limits: &Limits) -> Result<usize, ApiError> {
    let deltas = std::mem::take(&mut batch.d);
    let viewer_given = !batch.viewer_id.is_empty() || batch.cookieless;
    let mut stale = 0;
    for (i, d) in deltas.iter().enumerate() {
        let at = format!("d[{i}]");
        let conflict = |field: &str, message: String| {
            Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{message}; send the beacon whole"),
                Some(format!("{at}.{field}")),
            ))
        };
        let Some(stored) = store.get_view(&d.view_id)? else {
            return conflict("i", format!("view {:?} is not stored", d.view_id));
        };
        if stored.property != batch.property {
            return Err(ApiError::bad_request(
                format!("view {:?} belongs to another property", d.view_id),
                format!("{at}.i"),
            ));
        }
        if d.seq <= stored.beacon.seq {
            stale += 1;
            continue;
        }
        if stored.beacon.seq != d.base_seq() {
            return conflict(
                "b",
                format!(
                    "the base of view {:?} is seq {}, but the stored beacon is seq {}",
                    d.view_id,
                    d.base_seq(),
                    stored.beacon.seq
                ),
            );
        }
        let beacon = d
            .resolve(&stored.beacon)
            .map_err(|e| ApiError::bad_request(e.message, format!("{at}.{}", e.field)))?;
        validate_beacon(&at, &beacon, limits)?;
        if !viewer_given {
            if batch.viewer_id.is_empty() {
                batch.viewer_id = stored.viewer_id.clone();
            } else if batch.viewer_id != stored.viewer_id {
                return conflict(
                    "i",
                    "views of several viewers in one batch without viewer_id".into(),
                );
            }
        }
        batch.beacons.push(beacon);
    }
    Ok(stale)
}
