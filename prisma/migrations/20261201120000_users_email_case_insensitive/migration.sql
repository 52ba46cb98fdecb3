-- One user per address whatever its case: the API stores emails lower-cased, and this index holds
-- the rule for every other writer too.
UPDATE "users" SET "email" = lower("email") WHERE "email" <> lower("email");
CREATE UNIQUE INDEX "users_email_lower_key" ON "users" (lower("email"));
