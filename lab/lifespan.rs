//! Chapter 5: lifespan and request scope, in axum and in actix-web.
//!
//! Two scopes, two lifetimes:
//!
//! * **app scope** ([`resources`]): built once before the port opens, torn
//!   down once after the last request — the SQLite pool (schema migrated,
//!   WAL, busy timeout), the configuration, and an expensive [`Model`]. In
//!   FastAPI this is the `lifespan` context manager; in Django,
//!   `AppConfig.ready()` (which has no shutdown half).
//! * **request scope** ([`scope`]): a pooled connection lent to one request
//!   by an extractor and given back by `Drop` — FastAPI's `Depends` with
//!   `yield`, Django's per-request connection closed on `request_finished`.
//!
//! Every step is written to an injectable [`Recorder`] ([`events`]), so the
//! tests and the chapter's timelines read the real order of events.
//! [`server`] starts and stops either framework ([`axum_app`],
//! [`actix_app`]) the same way; [`serve`] runs it alone in a process until
//! SIGTERM. [`client`] calls it from outside; [`experiments`] are the
//! chapter's in-process runs (timelines, shutdown with requests in flight,
//! pool starvation); [`drill`] is the shutdown drill: a burst of
//! `POST /users` against a separate server process that gets SIGTERM
//! mid-flight, then a count of what reached the database.
//!
//! Left out: the sync (rouille) counterpart — a thread-per-request server
//! has the same two scopes, its request scope ending when the handler
//! closure returns, so it would teach nothing new here; TLS; HTTP/2.

pub mod actix_app;
pub mod axum_app;
pub mod client;
pub mod drill;
pub mod events;
pub mod experiments;
pub mod handlers;
pub mod resources;
pub mod scope;
pub mod serve;
pub mod server;

pub use events::{Echo, Event, Recorder, RequestLog, Step, StepKind};
pub use resources::{AppResources, Config, Model};
pub use scope::{RequestDb, ScopeError, Tx};
pub use server::{Framework, Running, ShutdownReport, start};
