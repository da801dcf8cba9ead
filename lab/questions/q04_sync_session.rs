//! Question 4: A sync database session inside async def, and an exhausted pool.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 4 is not measured yet")
}
