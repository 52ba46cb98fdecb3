-- One limit of a user: the override when the overrides object has the key (JSON null = unlimited),
-- the plan's value otherwise. A value that is not a safe non-negative integer raises instead of
-- lifting the limit (fail closed).
CREATE OR REPLACE FUNCTION "quota_effective_limit"(p_overrides JSONB, p_name TEXT, p_plan BIGINT) RETURNS BIGINT
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  v JSONB;
  n NUMERIC;
BEGIN
  IF p_overrides IS NULL OR jsonb_typeof(p_overrides) = 'null' THEN
    RETURN p_plan;
  END IF;
  IF jsonb_typeof(p_overrides) <> 'object' THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: not an object' USING ERRCODE = 'data_exception';
  END IF;
  IF NOT (p_overrides ? p_name) THEN
    RETURN p_plan;
  END IF;
  v := p_overrides -> p_name;
  IF jsonb_typeof(v) = 'null' THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: % is not a number', p_name USING ERRCODE = 'data_exception';
  END IF;
  n := v::NUMERIC;
  IF n <> trunc(n) OR n < 0 OR n > 9007199254740991 THEN
    RAISE EXCEPTION 'user_quota_overrides.limits is malformed: % is not a non-negative safe integer', p_name USING ERRCODE = 'data_exception';
  END IF;
  RETURN n::BIGINT;
END
$$;
