"""read cache facets: change notifications name what changed

The notification a committed change of a conversation sends now says which facets of
its scopes changed — membership (insert, delete, a new rep or opportunity, with the
scopes it left), status, results (analysis summary) — and also fires on insert and
delete, on a change of what a list item shows (title, company, deal, duration,
completion) and on a stored transcript (results: the transcript text is searched). The
read cache then drops only the entries that read the facets that changed.

Revision ID: 0011_cache_facets
Revises: 0010_transcript_chunks
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_cache_facets"
down_revision: str | None = "0010_transcript_chunks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION callstream_notify_conversation_facets(
  subject conversations, facets text[], old_rep text, old_opportunity uuid
) RETURNS void AS $$
BEGIN
  PERFORM pg_notify('callstream_conversation_changed', json_build_object(
    'id', subject.id, 'rep_id', subject.rep_id, 'opportunity_id', subject.opportunity_id,
    'team_id', (SELECT team_id FROM reps WHERE id = subject.rep_id),
    'old_rep_id', old_rep, 'old_opportunity_id', old_opportunity,
    'old_team_id', (SELECT team_id FROM reps WHERE id = old_rep),
    'status', subject.status, 'facets', facets,
    'at', extract(epoch FROM clock_timestamp()))::text);
END;
$$ LANGUAGE plpgsql
"""
CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION callstream_notify_conversation_change() RETURNS trigger AS $$
DECLARE
  facets text[] := '{}';
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM callstream_notify_conversation_facets(OLD, ARRAY['m'], NULL, NULL);
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' THEN
    PERFORM callstream_notify_conversation_facets(NEW, ARRAY['m'], NULL, NULL);
    RETURN NEW;
  END IF;
  IF OLD.rep_id IS DISTINCT FROM NEW.rep_id
     OR OLD.opportunity_id IS DISTINCT FROM NEW.opportunity_id THEN
    facets := facets || 'm'::text;
  END IF;
  IF OLD.status IS DISTINCT FROM NEW.status THEN
    facets := facets || 's'::text;
  END IF;
  IF OLD.analysis_summary IS DISTINCT FROM NEW.analysis_summary THEN
    facets := facets || 'r'::text;
  END IF;
  PERFORM callstream_notify_conversation_facets(
    NEW, facets,
    CASE WHEN 'm' = ANY(facets) THEN OLD.rep_id END,
    CASE WHEN 'm' = ANY(facets) THEN OLD.opportunity_id END);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
CHANGE_TRIGGER = """
CREATE TRIGGER conversations_changed
AFTER UPDATE ON conversations FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      OR OLD.analysis_summary IS DISTINCT FROM NEW.analysis_summary
      OR OLD.rep_id IS DISTINCT FROM NEW.rep_id
      OR OLD.opportunity_id IS DISTINCT FROM NEW.opportunity_id
      OR OLD.opportunity_name IS DISTINCT FROM NEW.opportunity_name
      OR OLD.title IS DISTINCT FROM NEW.title
      OR OLD.company_name IS DISTINCT FROM NEW.company_name
      OR OLD.duration_seconds IS DISTINCT FROM NEW.duration_seconds
      OR OLD.completed_at IS DISTINCT FROM NEW.completed_at)
EXECUTE FUNCTION callstream_notify_conversation_change()
"""
MEMBERSHIP_TRIGGER = """
CREATE TRIGGER conversations_added_or_removed
AFTER INSERT OR DELETE ON conversations FOR EACH ROW
EXECUTE FUNCTION callstream_notify_conversation_change()
"""
TRANSCRIPT_FUNCTION = """
CREATE OR REPLACE FUNCTION callstream_notify_transcript_change() RETURNS trigger AS $$
DECLARE
  subject conversations;
BEGIN
  SELECT * INTO subject FROM conversations WHERE id = NEW.conversation_id;
  IF FOUND THEN
    PERFORM callstream_notify_conversation_facets(subject, ARRAY['r'], NULL, NULL);
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
TRANSCRIPT_TRIGGER = """
CREATE TRIGGER transcripts_changed
AFTER INSERT OR UPDATE OF text ON transcripts FOR EACH ROW
EXECUTE FUNCTION callstream_notify_transcript_change()
"""

OLD_CHANGE_FUNCTION = """
CREATE OR REPLACE FUNCTION callstream_notify_conversation_change() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('callstream_conversation_changed', json_build_object(
    'id', NEW.id, 'rep_id', NEW.rep_id, 'opportunity_id', NEW.opportunity_id,
    'team_id', (SELECT team_id FROM reps WHERE id = NEW.rep_id),
    'status', NEW.status, 'at', extract(epoch FROM clock_timestamp()))::text);
  RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
OLD_CHANGE_TRIGGER = """
CREATE TRIGGER conversations_changed
AFTER UPDATE ON conversations FOR EACH ROW
WHEN (OLD.status IS DISTINCT FROM NEW.status
      OR OLD.analysis_summary IS DISTINCT FROM NEW.analysis_summary)
EXECUTE FUNCTION callstream_notify_conversation_change()
"""


def upgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS conversations_changed ON conversations")
    op.execute(NOTIFY_FUNCTION)
    op.execute(CHANGE_FUNCTION)
    op.execute(CHANGE_TRIGGER)
    op.execute(MEMBERSHIP_TRIGGER)
    op.execute(TRANSCRIPT_FUNCTION)
    op.execute(TRANSCRIPT_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS transcripts_changed ON transcripts")
    op.execute("DROP FUNCTION IF EXISTS callstream_notify_transcript_change()")
    op.execute("DROP TRIGGER IF EXISTS conversations_added_or_removed ON conversations")
    op.execute("DROP TRIGGER IF EXISTS conversations_changed ON conversations")
    op.execute(OLD_CHANGE_FUNCTION)
    op.execute(
        "DROP FUNCTION IF EXISTS callstream_notify_conversation_facets(conversations, text[], "
        "text, uuid)"
    )
    op.execute(OLD_CHANGE_TRIGGER)
