-- Text search for `casemail cases -text`: PostgreSQL full text over a
-- case's subject and its messages' new text. The 'simple' configuration
-- (no stemming, no stop words): cases come in Swedish, Norwegian, English
-- and more, and a search must find the words as people typed them.
CREATE INDEX cases_subject_fts_idx ON cases USING gin (to_tsvector('simple', subject));
CREATE INDEX messages_fts_idx ON messages USING gin (to_tsvector('simple', subject || ' ' || new_text));
