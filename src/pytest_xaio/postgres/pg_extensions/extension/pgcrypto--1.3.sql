-- pytest-xaio: pgcrypto's common functions written in SQL (the embedded server ships no pgcrypto).
-- gen_random_uuid() is core PostgreSQL. digest() and hmac() support md5, sha224, sha256, sha384 and
-- sha512 (sha1 needs pgcrypto itself); gen_random_bytes() hashes gen_random_uuid() output.
-- crypt(), gen_salt() and the pgp_* functions are not provided.

CREATE FUNCTION digest(data bytea, type text) RETURNS bytea LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
  CASE lower(type)
    WHEN 'md5' THEN RETURN decode(md5(data), 'hex');
    WHEN 'sha224' THEN RETURN sha224(data);
    WHEN 'sha256' THEN RETURN sha256(data);
    WHEN 'sha384' THEN RETURN sha384(data);
    WHEN 'sha512' THEN RETURN sha512(data);
    ELSE RAISE EXCEPTION 'digest type % is not supported by the pytest-xaio stand-in for pgcrypto', type
      USING HINT = 'use md5, sha224, sha256, sha384 or sha512, or test on a server with the real pgcrypto';
  END CASE;
END
$$;

CREATE FUNCTION digest(data text, type text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT digest(convert_to(data, 'UTF8'), type) $$;

CREATE FUNCTION hmac(data bytea, key bytea, type text) RETURNS bytea LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
  block int := CASE WHEN lower(type) IN ('sha384', 'sha512') THEN 128 ELSE 64 END;
  k bytea := key;
  ipad bytea;
  opad bytea;
BEGIN
  IF length(k) > block THEN
    k := digest(k, type);
  END IF;
  k := k || decode(repeat('00', block - length(k)), 'hex');
  ipad := k;
  opad := k;
  FOR i IN 0 .. block - 1 LOOP
    ipad := set_byte(ipad, i, get_byte(k, i) # 54);
    opad := set_byte(opad, i, get_byte(k, i) # 92);
  END LOOP;
  RETURN digest(opad || digest(ipad || data, type), type);
END
$$;

CREATE FUNCTION hmac(data text, key text, type text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT hmac(convert_to(data, 'UTF8'), convert_to(key, 'UTF8'), type) $$;

CREATE FUNCTION gen_random_bytes(count integer) RETURNS bytea LANGUAGE plpgsql VOLATILE STRICT PARALLEL SAFE
AS $$
DECLARE
  out bytea := '';
BEGIN
  IF count < 1 OR count > 1024 THEN
    RAISE EXCEPTION 'Length not in range';
  END IF;
  WHILE length(out) < count LOOP
    out := out || sha256(uuid_send(pg_catalog.gen_random_uuid()) || uuid_send(pg_catalog.gen_random_uuid()));
  END LOOP;
  RETURN substring(out FROM 1 FOR count);
END
$$;
