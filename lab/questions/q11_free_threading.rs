//! Question 11: Does free-threaded Python make async pointless?.
//!
//! (Not measured yet: the chapter 7 skeleton.)

use super::Ctx;

pub fn run(_ctx: &Ctx) -> anyhow::Result<()> {
    anyhow::bail!("question 11 is not measured yet")
}
