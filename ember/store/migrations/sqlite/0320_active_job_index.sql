-- Claiming a job reads only the jobs still to run. The claim filtered on (state, run_after) OR
-- (state, lease_until) and ordered by run_after: the planner answered it from job_kind_key,
-- reading every job of the kind ever queued, finished ones included. Each write transaction
-- queues an audit job, so a claim took 7 ms at 10,000 finished jobs, inside the write lock,
-- and grew with every write. This partial index holds only queued and running jobs, by kind in
-- claim order; the claim repeats its condition, so for one kind it reads the index from the
-- front and stops at the first due job (for several, it sorts their queued and running jobs).
DROP INDEX job_due;
CREATE INDEX job_active ON job (kind, run_after, id) WHERE state IN ('queued', 'running');
