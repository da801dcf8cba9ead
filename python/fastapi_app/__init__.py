"""The book's FastAPI app in three flavours that differ only in how /wait and
/users wait: `async_app` (await), `def_app` (the threadpool) and
`blocked_app` (the bug: time.sleep inside async def). See ../README.md."""
