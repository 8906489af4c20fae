"""Durable jobs and small records, written once for both back ends.

Each store's transaction class mixes this in and supplies `_rows` (run one statement, return its
rows as tuples) and `_placeholder`; the SQL shape is the same on SQLite and PostgreSQL, except
that PostgreSQL claims with `FOR UPDATE SKIP LOCKED` (SQLite's writer lock already serialises
claimers). Times are epoch seconds and JSON is stored as text, so nothing needs converting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from ember.store.base import Job, JobState

_JOB_COLUMNS = "id, kind, job_key, payload, state, attempts, run_after, progress, result, error, created, updated"


def _job(row: Sequence[Any]) -> Job:
    return Job(
        id=row[0],
        kind=row[1],
        key=row[2],
        payload=orjson.loads(row[3]),
        state=row[4],
        attempts=row[5],
        run_after=row[6],
        progress=_loads(row[7]),
        result=_loads(row[8]),
        error=row[9],
        created=row[10],
        updated=row[11],
    )


def _loads(text: str | None) -> dict[str, Any] | None:
    return None if text is None else orjson.loads(text)


def _dumps(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class RecordReads:
    """Reading a record: a Transaction's, and also the stores' `lookups()`, outside any."""

    async def _rows(self, sql: str, params: Sequence[Any]) -> list[Sequence[Any]]:
        raise NotImplementedError

    def _placeholder(self, position: int) -> str:
        raise NotImplementedError

    def _sql(self, template: str, count: int) -> str:
        """`template` with `{0}`, `{1}`... replaced by the back end's placeholders."""
        return template.format(*(self._placeholder(i + 1) for i in range(count)))

    async def get_record(self, kind: str, key: str) -> dict[str, Any] | None:
        sql = self._sql(f"SELECT value FROM record WHERE kind = {{0}} AND record_key = {{1}} AND {_LIVE}", 3)
        rows = await self._rows(sql, [kind, key, time.time()])
        return orjson.loads(rows[0][0]) if rows else None


class JobsAndRecords(RecordReads):
    """The job and record methods of `Transaction` (see base.py for their contracts)."""

    _skip_locked = ""
    #: Where a claim looks: the partial index of queued and running jobs (migration 0320), which
    #: SQLite, lacking statistics, would pass over for the kind index of every job ever queued.
    _claimable = "job"

    async def enqueue(
        self, kind: str, payload: dict[str, Any], *, key: str | None = None, run_after: float | None = None
    ) -> int | None:
        now = time.time()
        sql = self._sql(
            "INSERT INTO job (kind, job_key, payload, state, attempts, run_after, created, updated) "
            "VALUES ({0}, {1}, {2}, 'queued', 0, {3}, {4}, {4}) ON CONFLICT (kind, job_key) DO NOTHING RETURNING id",
            5,
        )
        rows = await self._rows(sql, [kind, key, _dumps(payload), now if run_after is None else run_after, now])
        return rows[0][0] if rows else None

    async def claim_job(self, kinds: Sequence[str], worker: str, lease_seconds: float) -> Job | None:
        if not kinds:
            return None
        now = time.time()
        kind_list = ", ".join(self._placeholder(5 + i) for i in range(len(kinds)))
        sql = (
            self._sql(
                "UPDATE job SET state = 'running', attempts = attempts + 1, worker = {0}, lease_until = {1}, "
                "updated = {2} WHERE id = (SELECT id FROM " + self._claimable + " WHERE state IN ('queued', 'running') "
                "AND ((state = 'queued' AND run_after <= {3}) OR (state = 'running' AND lease_until < {3})) ",
                4,
            )
            + f"AND kind IN ({kind_list}) ORDER BY run_after, id LIMIT 1{self._skip_locked}) "
            + f"RETURNING {_JOB_COLUMNS}"
        )
        rows = await self._rows(sql, [worker, now + lease_seconds, now, now, *kinds])
        return _job(rows[0]) if rows else None

    async def finish_job(self, job_id: int, result: dict[str, Any] | None = None) -> None:
        sql = self._sql(
            "UPDATE job SET state = 'done', result = {0}, lease_until = NULL, updated = {1} WHERE id = {2}", 3
        )
        await self._rows(sql, [_dumps(result), time.time(), job_id])

    async def fail_job(self, job_id: int, error: str, retry_at: float | None) -> None:
        state: JobState = "failed" if retry_at is None else "queued"
        sql = self._sql(
            "UPDATE job SET state = {0}, error = {1}, run_after = COALESCE({2}, run_after), lease_until = NULL, "
            "updated = {3} WHERE id = {4}",
            5,
        )
        await self._rows(sql, [state, error, retry_at, time.time(), job_id])

    async def retry_job(self, job_id: int) -> bool:
        now = time.time()
        sql = self._sql(
            "UPDATE job SET state = 'queued', run_after = {0}, updated = {0} WHERE id = {1} AND state = 'failed' "
            "RETURNING id",
            2,
        )
        return bool(await self._rows(sql, [now, job_id]))

    async def set_job_progress(self, job_id: int, progress: dict[str, Any]) -> None:
        sql = self._sql("UPDATE job SET progress = {0}, updated = {1} WHERE id = {2}", 3)
        await self._rows(sql, [_dumps(progress), time.time(), job_id])

    async def get_job(self, job_id: int) -> Job | None:
        rows = await self._rows(self._sql(f"SELECT {_JOB_COLUMNS} FROM job WHERE id = {{0}}", 1), [job_id])
        return _job(rows[0]) if rows else None

    async def find_job(self, kind: str, key: str) -> Job | None:
        sql = self._sql(f"SELECT {_JOB_COLUMNS} FROM job WHERE kind = {{0}} AND job_key = {{1}}", 2)
        rows = await self._rows(sql, [kind, key])
        return _job(rows[0]) if rows else None

    async def list_jobs(self, kind: str | None = None, state: JobState | None = None, *, limit: int = 100) -> list[Job]:
        filters = {"kind": kind, "state": state}
        params = [value for value in filters.values() if value is not None]
        conditions = [f"{column} = {{{i}}}" for i, column in enumerate(c for c, v in filters.items() if v is not None)]
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = self._sql(
            f"SELECT {_JOB_COLUMNS} FROM job{where} ORDER BY id DESC LIMIT {{{len(params)}}}", len(params) + 1
        )
        return [_job(row) for row in await self._rows(sql, [*params, limit])]

    async def put_record(self, kind: str, key: str, value: dict[str, Any], *, expires_at: float | None = None) -> None:
        sql = self._sql(
            "INSERT INTO record (kind, record_key, value, expires_at) VALUES ({0}, {1}, {2}, {3}) "
            "ON CONFLICT (kind, record_key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
            4,
        )
        await self._rows(sql, [kind, key, _dumps(value), expires_at])

    async def insert_record(
        self, kind: str, key: str, value: dict[str, Any], *, expires_at: float | None = None
    ) -> bool:
        # An expired record with the key is replaced; a live one wins.
        sql = self._sql(
            "INSERT INTO record (kind, record_key, value, expires_at) VALUES ({0}, {1}, {2}, {3}) "
            "ON CONFLICT (kind, record_key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at "
            "WHERE record.expires_at IS NOT NULL AND record.expires_at <= {4} RETURNING record_key",
            5,
        )
        return bool(await self._rows(sql, [kind, key, _dumps(value), expires_at, time.time()]))

    async def take_record(self, kind: str, key: str) -> dict[str, Any] | None:
        sql = self._sql(f"DELETE FROM record WHERE kind = {{0}} AND record_key = {{1}} AND {_LIVE} RETURNING value", 3)
        rows = await self._rows(sql, [kind, key, time.time()])
        return orjson.loads(rows[0][0]) if rows else None

    async def delete_record(self, kind: str, key: str) -> bool:
        sql = self._sql("DELETE FROM record WHERE kind = {0} AND record_key = {1} RETURNING record_key", 2)
        return bool(await self._rows(sql, [kind, key]))

    async def list_records(self, kind: str, *, prefix: str = "", limit: int = 1000) -> list[tuple[str, dict[str, Any]]]:
        # substr() rather than LIKE: keys may contain % and _.
        sql = self._sql(
            "SELECT record_key, value FROM record WHERE kind = {0} AND substr(record_key, 1, {1}) = {2} "
            f"AND {_LIVE.replace('{2}', '{3}')} ORDER BY record_key LIMIT {{4}}",
            5,
        )
        rows = await self._rows(sql, [kind, len(prefix), prefix, time.time(), limit])
        return [(row[0], orjson.loads(row[1])) for row in rows]


# Not expired at the instant bound to placeholder {2}.
_LIVE = "(expires_at IS NULL OR expires_at > {2})"
