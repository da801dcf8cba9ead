//! Question 5: How many uvicorn workers?.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 5 is not measured yet")
}
