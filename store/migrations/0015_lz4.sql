-- Raw mails, attachment bodies and the long texts of messages and outgoing
-- mail are compressed with lz4 where the server has it (PostgreSQL 14 or
-- later, built with lz4, as the distributions' packages are). The default,
-- pglz, is several times slower, and slowest where it gains nothing:
-- attachments are mostly compressed already (PDF, images, Office files)
-- and a raw mail carries them base64-encoded, which it cannot shrink
-- either. It took a fifth of PostgreSQL's CPU while intake stored a
-- realistic backlog. Rows stored before keep their compression; both read
-- the same. Elsewhere this does nothing.
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
        ALTER TABLE raw_mails ALTER COLUMN data SET COMPRESSION lz4;
        ALTER TABLE blobs ALTER COLUMN data SET COMPRESSION lz4;
        ALTER TABLE messages ALTER COLUMN text_body SET COMPRESSION lz4;
        ALTER TABLE outbox ALTER COLUMN text_body SET COMPRESSION lz4, ALTER COLUMN html_body SET COMPRESSION lz4;
    END IF;
END
$$;
