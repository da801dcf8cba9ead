//! The Waiting Well lab: the shared machinery behind every chapter's example.
//!
//! Each module is small and teaches one thing; examples in `examples/` only
//! set up an experiment, run it and print a table. Nothing here talks to
//! anything but loopback (127.0.0.1 / ::1), and every loop is bounded.
//!
//! | module      | chapter | what it holds                                             |
//! |-------------|---------|-----------------------------------------------------------|
//! | `report`    | all     | aligned tables, the machine a figure came from            |
//! | `progress`  | 1–5     | a step's progress on stderr: a bar, or a line in a log    |
//! | `wait`      | 1       | simulated waits (blocking and async) and CPU-bound work   |
//! | `db`        | 1, 3    | a small real SQLite database with injectable latency      |
//! | `upstream`  | 1       | a local "slow upstream" HTTP server                       |
//! | `client`    | 1       | sequential blocking vs concurrent async HTTP clients      |
//! | `loadgen`   | 1, 3, 4 | the book's load generator (closed and open loop)          |
//! | `gil`       | 2       | a global interpreter lock, built like CPython's           |
//! | `users`     | 3, 4, 5 | the users resource: validation, errors, SQL               |
//! | `api`       | 3, 4    | one API on a thread pool, rouille, axum and actix-web     |
//! | `lifespan`  | 5       | app-wide and request-scoped resources, graceful shutdown  |
//! | `net`       | 3, 4, 5 | listening sockets: bind, then listen with one backlog     |
//! | `process`   | 4, 5, 6 | a server in a child process: ready, log, stop its group   |
//! | `python`    | 6       | the Python stacks' venv and command lines (`python/`)     |
//! | `postgres`  | 6       | a throwaway PostgreSQL cluster under `target/`            |
//! | `fuzz`      | 3, 4, 5 | generated bad requests against every server model         |
//! | `published` | 6       | the FastAPI-vs-DRF blog table (quoted) and its Little's law |
//! | `stacks`    | 6       | every stack of the table as a child process group, measured |
//! | `predict`   | 6       | the visualizer's simulation predicting the measured rows  |
//! | `questions` | 7       | readers' questions, one module each, settled by measurement |
//! | `wrk`       | 6       | reading wrk's summary, for cross-checks with wrk            |

pub mod api;
pub mod client;
pub mod db;
pub mod fuzz;
pub mod gil;
pub mod lifespan;
pub mod loadgen;
pub mod net;
pub mod postgres;
pub mod predict;
pub mod process;
pub mod progress;
pub mod published;
pub mod python;
pub mod questions;
pub mod report;
pub mod stacks;
pub mod upstream;
pub mod users;
pub mod wait;
pub mod wrk;
