"""Chapter 7's small apps: one module per reader's question, each served by
uvicorn or gunicorn from python/ (`uvicorn questions.q01_blocking:app`) and
driven from Rust (lab/questions/)."""
