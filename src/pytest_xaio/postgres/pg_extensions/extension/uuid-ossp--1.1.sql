-- pytest-xaio: uuid-ossp's functions written in SQL (the embedded server ships no uuid-ossp).
-- uuid_generate_v1/v1mc make version-1 UUIDs from the clock with a random multicast node (as v1mc
-- does); uuid_generate_v3 is MD5-based as specified; uuid_generate_v5 needs SHA-1, which core
-- PostgreSQL lacks, so it is not provided.

CREATE FUNCTION uuid_nil() RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '00000000-0000-0000-0000-000000000000'::uuid $$;
CREATE FUNCTION uuid_ns_dns() RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '6ba7b810-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
CREATE FUNCTION uuid_ns_url() RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '6ba7b811-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
CREATE FUNCTION uuid_ns_oid() RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '6ba7b812-9dad-11d1-80b4-00c04fd430c8'::uuid $$;
CREATE FUNCTION uuid_ns_x500() RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT '6ba7b814-9dad-11d1-80b4-00c04fd430c8'::uuid $$;

CREATE FUNCTION uuid_generate_v4() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$ SELECT pg_catalog.gen_random_uuid() $$;

CREATE FUNCTION uuid_generate_v1mc() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  WITH t AS (
    SELECT (floor(extract(epoch FROM clock_timestamp()) * 10000000))::bigint + 122192928000000000 AS ts,
           (floor(random() * 16384))::int AS seq,
           (floor(random() * 281474976710656))::bigint | 1099511627776 AS node
  )
  SELECT (lpad(to_hex(ts & 4294967295), 8, '0') || lpad(to_hex((ts >> 32) & 65535), 4, '0')
          || lpad(to_hex(((ts >> 48) & 4095) | 4096), 4, '0') || lpad(to_hex(seq | 32768), 4, '0')
          || lpad(to_hex(node), 12, '0'))::uuid
  FROM t
$$;

CREATE FUNCTION uuid_generate_v1() RETURNS uuid LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$ SELECT uuid_generate_v1mc() $$;

CREATE FUNCTION uuid_generate_v3(namespace uuid, name text) RETURNS uuid LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
  WITH h AS (SELECT decode(md5(uuid_send(namespace) || convert_to(name, 'UTF8')), 'hex') AS b)
  SELECT encode(set_byte(set_byte(b, 6, (get_byte(b, 6) & 15) | 48), 8, (get_byte(b, 8) & 63) | 128), 'hex')::uuid
  FROM h
$$;
