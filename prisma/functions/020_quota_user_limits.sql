-- The effective limits of a user: the plan's, with each override that the user has (DESIGN.md §2).
-- NULL = unlimited, or for a TTL: that cache tier is off (a TTL of 0 keeps nothing, so it is NULL
-- too). No row for an unknown user. PL/pgSQL, not SQL: an SQL function would be inlined and the
-- columns its caller does not read never computed, so a malformed TTL override would go unnoticed
-- by a charge; every value is checked on every read instead (fail closed). The charge, the status and
-- the worker's cache TTLs all read this one function, so they cannot disagree about a limit.
CREATE OR REPLACE FUNCTION "quota_user_limits"(p_user_id TEXT)
RETURNS TABLE (
  plan_id TEXT,
  concurrent_jobs BIGINT,
  calls_per_hour BIGINT,
  enrichments_per_day BIGINT,
  tokens_per_day BIGINT,
  tokens_per_month BIGINT,
  session_ttl_seconds BIGINT,
  content_ttl_seconds BIGINT
)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN QUERY
  SELECT u.plan_id,
         quota_effective_limit(o.limits, 'concurrentJobs', p.concurrent_jobs),
         quota_effective_limit(o.limits, 'callsPerHour', p.calls_per_hour),
         quota_effective_limit(o.limits, 'enrichmentsPerDay', p.enrichments_per_day),
         quota_effective_limit(o.limits, 'tokensPerDay', p.tokens_per_day),
         quota_effective_limit(o.limits, 'tokensPerMonth', p.tokens_per_month),
         NULLIF(quota_effective_limit(o.limits, 'sessionTtlSeconds', p.session_ttl_seconds), 0),
         NULLIF(quota_effective_limit(o.limits, 'contentTtlSeconds', p.content_ttl_seconds), 0)
    FROM users u
    JOIN plans p ON p.id = u.plan_id
    LEFT JOIN user_quota_overrides o ON o.user_id = u.id
   WHERE u.id = p_user_id;
END
$$;
