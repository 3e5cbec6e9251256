//! Event invocations: written to the store before the caller gets its 202 (so they survive
//! a crash of the daemon), run by a background worker under the qualifier's asynchronous
//! settings (`EventInvokeConfig`, Lambda's defaults without one): retried on function errors
//! up to `MaximumRetryAttempts` times (two by default) — after the retry delay, then twice
//! that —, dropped once older than `MaximumEventAgeInSeconds` (six hours by default), and
//! once done with, their record sent to the `OnSuccess` or `OnFailure` destination.
//! Throttled or not-yet-invocable events, and events the host is too busy for (see
//! `admission`: an attempt never waits there), wait in the queue without using an attempt,
//! tried again after 1 s, then twice as long each time up to 8 s. A daemon that starts
//! picks up every event its predecessor left.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use control::lambda::FunctionRef;
use control::store::TxExt;
use control::{Scope, Store, StoreError};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;
use tracing::Instrument;

use super::destination::{AttemptResponse, Condition};
use super::logs::now_ms;
use super::metrics::Metric;
use super::{EventRun, InvokeError, Invoker};

/// Store kind of queued events, id = request id.
const KIND: &str = "lambda.async-event";
/// How long a throttled or not-yet-invocable event waits before it is tried again: this,
/// doubled for each wait in a row up to [`WAIT_RETRY_MAX`], so a backlog on a saturated host
/// backs off instead of trying every event every second.
const WAIT_RETRY: Duration = Duration::from_secs(1);
const WAIT_RETRY_MAX: Duration = Duration::from_secs(8);

/// One accepted Event invocation.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QueuedEvent {
    /// Every attempt keeps the request id the caller was given.
    pub request_id: String,
    pub function: String,
    pub qualifier: Option<String>,
    /// base64.
    payload: String,
    /// Attempts that ended in a function error.
    attempts: u32,
    /// When the next attempt is due, in Unix milliseconds.
    due_ms: i64,
    /// When the event was accepted, in Unix milliseconds (absent in events queued by an
    /// older daemon).
    #[serde(default)]
    received_ms: Option<i64>,
    /// What the last failed attempt answered, for the record of an event that ages out
    /// after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_response: Option<AttemptResponse>,
}

impl QueuedEvent {
    pub fn received_ms(&self) -> Option<i64> {
        self.received_ms
    }

    /// Attempts that ended in a function error.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    pub fn function_ref(&self) -> FunctionRef {
        FunctionRef {
            name: self.function.clone(),
            qualifier: self.qualifier.clone(),
        }
    }

    pub fn payload(&self) -> Bytes {
        base64::engine::general_purpose::STANDARD
            .decode(&self.payload)
            .map(Bytes::from)
            .unwrap_or_default()
    }
}

struct Due {
    at_ms: i64,
    scope: Scope,
    id: String,
    /// Attempts in a row that had to wait (throttled, not invocable, host saturated).
    waits: u32,
}

/// The queue: durable records in the store, due times in memory.
pub struct Queue {
    store: Store,
    due: Mutex<Vec<Due>>,
    wake: Notify,
    /// Set when the daemon stops: no attempt starts after it (the events stay stored and
    /// are resumed by the next start), so none runs after the shutdown's cleanup.
    closed: AtomicBool,
}

impl Queue {
    /// Starts no attempt from now on (daemon shutdown).
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub fn new(store: Store) -> Queue {
        Queue {
            store,
            due: Mutex::new(Vec::new()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    /// Records the event durably and schedules it at once.
    pub async fn enqueue(
        &self,
        scope: &Scope,
        fref: &FunctionRef,
        request_id: &str,
        payload: &Bytes,
    ) -> Result<(), InvokeError> {
        let event = QueuedEvent {
            request_id: request_id.to_string(),
            function: fref.name.clone(),
            qualifier: fref.qualifier.clone(),
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
            attempts: 0,
            due_ms: now_ms(),
            received_ms: Some(now_ms()),
            last_response: None,
        };
        self.save(scope, &event).await?;
        self.schedule(scope.clone(), event.request_id, event.due_ms);
        Ok(())
    }

    fn schedule(&self, scope: Scope, id: String, at_ms: i64) {
        self.schedule_due(Due {
            at_ms,
            scope,
            id,
            waits: 0,
        });
    }

    fn schedule_due(&self, due: Due) {
        self.due.lock().unwrap_or_else(|p| p.into_inner()).push(due);
        self.wake.notify_one();
    }

    /// The events due by `now`, and when the next one after them is due.
    fn take_due(&self, now: i64) -> (Vec<Due>, Option<i64>) {
        let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
        let (ready, later): (Vec<Due>, Vec<Due>) = due.drain(..).partition(|d| d.at_ms <= now);
        *due = later;
        let next = due.iter().map(|d| d.at_ms).min();
        (ready, next)
    }

    async fn save(&self, scope: &Scope, event: &QueuedEvent) -> Result<(), InvokeError> {
        let (store, scope, event) = (self.store.clone(), scope.clone(), event.clone());
        blocking(move || store.write(|tx| tx.put_json(KIND, &scope, &event.request_id, &event)))
            .await
    }

    async fn load(&self, scope: &Scope, id: &str) -> Result<Option<QueuedEvent>, InvokeError> {
        let (store, scope, id) = (self.store.clone(), scope.clone(), id.to_string());
        blocking(move || store.read(|tx| tx.get_json(KIND, &scope, &id))).await
    }

    async fn remove(&self, scope: &Scope, id: &str) -> Result<(), InvokeError> {
        let (store, scope, id) = (self.store.clone(), scope.clone(), id.to_string());
        blocking(move || store.write(|tx| tx.delete(KIND, &scope, &id).map(|_| ()))).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, InvokeError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| InvokeError::Host(format!("queue task failed: {e}")))?
        .map_err(|e| InvokeError::Host(e.to_string()))
}

pub fn spawn_worker(invoker: Arc<Invoker>) {
    tokio::spawn(work(invoker));
}

async fn work(invoker: Arc<Invoker>) {
    let store = invoker.queue.store.clone();
    match tokio::task::spawn_blocking(move || store.read(|tx| tx.list_all(KIND))).await {
        Ok(Ok(left)) => {
            if !left.is_empty() {
                tracing::info!(events = left.len(), "resuming queued Event invocations");
            }
            for (scope, id, body) in left {
                let due = serde_json::from_slice::<QueuedEvent>(&body).map_or(0, |e| e.due_ms);
                invoker.queue.schedule(scope, id, due);
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "reading queued Event invocations failed"),
        Err(e) => tracing::error!(error = %e, "reading queued Event invocations panicked"),
    }
    loop {
        if invoker.queue.is_closed() {
            return;
        }
        let now = now_ms();
        let (ready, next) = invoker.queue.take_due(now);
        for due in ready {
            let span = tracing::info_span!("event", request_id = %due.id);
            tokio::spawn(attempt(invoker.clone(), due).instrument(span));
        }
        let wait = next.map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0)));
        tokio::select! {
            _ = invoker.queue.wake.notified() => {}
            _ = sleep(wait) => {}
        }
    }
}

async fn sleep(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}

/// One attempt at a due event, and what it leaves in the queue.
async fn attempt(invoker: Arc<Invoker>, due: Due) {
    let queue = &invoker.queue;
    if queue.is_closed() {
        return;
    }
    let mut event = match queue.load(&due.scope, &due.id).await {
        Ok(Some(e)) => e,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "reading a queued event failed");
            queue.schedule(due.scope, due.id, now_ms() + millis(WAIT_RETRY));
            return;
        }
    };
    let policy = invoker
        .event_policy(&due.scope, &event.function_ref())
        .await;
    if too_old(event.received_ms, now_ms(), policy.maximum_event_age_secs) {
        tracing::warn!(function = %event.function, max_age_secs = policy.maximum_event_age_secs, "Event invocation older than its maximum event age; dropped");
        dropped(&invoker, &due.scope, &event);
        let last = event.last_response.clone();
        invoker
            .conclude(
                &due.scope,
                &event,
                &policy,
                Condition::EventAgeExceeded,
                last.as_ref(),
            )
            .await;
        return finish(queue.remove(&due.scope, &due.id).await);
    }
    let result = match invoker.run_event(&due.scope, &event).await {
        EventRun::Done(response) => {
            invoker
                .conclude(
                    &due.scope,
                    &event,
                    &policy,
                    Condition::Success,
                    Some(&response),
                )
                .await;
            queue.remove(&due.scope, &due.id).await
        }
        EventRun::Gone => {
            tracing::warn!(function = %event.function, "dropping an Event invocation: the function is gone");
            dropped(&invoker, &due.scope, &event);
            queue.remove(&due.scope, &due.id).await
        }
        EventRun::Wait => {
            queue.schedule_due(Due {
                at_ms: now_ms() + millis(wait_retry(due.waits)),
                scope: due.scope.clone(),
                id: due.id.clone(),
                waits: due.waits.saturating_add(1),
            });
            Ok(())
        }
        EventRun::Failed(response) => {
            event.attempts += 1;
            let detail = String::from_utf8_lossy(&response.payload()).into_owned();
            if retries_exhausted(event.attempts, policy.maximum_retry_attempts) {
                tracing::warn!(function = %event.function, attempts = event.attempts, %detail, "Event invocation failed on every attempt; dropped");
                dropped(&invoker, &due.scope, &event);
                invoker
                    .conclude(
                        &due.scope,
                        &event,
                        &policy,
                        Condition::RetriesExhausted,
                        Some(&response),
                    )
                    .await;
                queue.remove(&due.scope, &due.id).await
            } else {
                let delay = invoker.settings.async_retry_delay * event.attempts;
                event.due_ms = now_ms() + millis(delay);
                event.last_response = Some(response);
                tracing::info!(function = %event.function, attempt = event.attempts, %detail, "Event invocation failed; retrying");
                let saved = queue.save(&due.scope, &event).await;
                queue.schedule(due.scope.clone(), due.id.clone(), event.due_ms);
                saved
            }
        }
    };
    finish(result);
}

/// The delay before the next attempt of an event that had to wait `waits` times in a row
/// before this one.
fn wait_retry(waits: u32) -> Duration {
    WAIT_RETRY
        .saturating_mul(1 << waits.min(16))
        .min(WAIT_RETRY_MAX)
}

fn finish(result: Result<(), InvokeError>) {
    if let Err(e) = result {
        tracing::error!(error = %e, "updating the Event queue failed");
    }
}

/// Whether an event accepted at `received_ms` is older than `max_age_secs` at `now_ms`
/// (events queued by an older daemon, without the time, never are).
fn too_old(received_ms: Option<i64>, now_ms: i64, max_age_secs: u32) -> bool {
    received_ms.is_some_and(|at| now_ms - at > i64::from(max_age_secs) * 1000)
}

/// Whether an event whose attempts failed `failed` times has used up its retries: the first
/// attempt and `max_retries` more.
fn retries_exhausted(failed: u32, max_retries: u32) -> bool {
    failed > max_retries
}

fn dropped(invoker: &Invoker, scope: &Scope, event: &QueuedEvent) {
    let subject = super::subject(scope, &event.function_ref());
    invoker
        .metrics
        .record(&subject, Metric::AsyncEventsDropped, 1.0);
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_follow_maximum_retry_attempts() {
        assert!(retries_exhausted(1, 0));
        assert!(!retries_exhausted(1, 1));
        assert!(retries_exhausted(2, 1));
        assert!(!retries_exhausted(2, 2));
        assert!(retries_exhausted(3, 2));
    }

    #[test]
    fn waiting_events_back_off() {
        let s = Duration::from_secs;
        assert_eq!(wait_retry(0), s(1));
        assert_eq!(wait_retry(1), s(2));
        assert_eq!(wait_retry(3), s(8));
        assert_eq!(wait_retry(4), s(8), "capped");
        assert_eq!(wait_retry(u32::MAX), s(8));
    }

    #[test]
    fn events_age_out_after_maximum_event_age() {
        let received = 1_000_000;
        assert!(!too_old(Some(received), received + 60_000, 60));
        assert!(too_old(Some(received), received + 60_001, 60));
        assert!(!too_old(Some(received), received + 21_600_000, 21_600));
        assert!(too_old(Some(received), received + 21_600_001, 21_600));
        assert!(!too_old(None, i64::MAX, 60));
    }

    #[test]
    fn events_of_an_older_daemon_still_read() {
        let old = r#"{"request_id":"r","function":"f","qualifier":null,"payload":"e30=","attempts":1,"due_ms":5}"#;
        let e: QueuedEvent = serde_json::from_str(old).unwrap();
        assert_eq!(e.attempts(), 1);
        assert!(e.last_response.is_none() && e.received_ms().is_none());
        assert_eq!(&e.payload()[..], b"{}");
    }
}
