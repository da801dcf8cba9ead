//! Question 6: gunicorn sync, gthread or uvicorn workers?.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 6 is not measured yet")
}
