"""PostgreSQL refuses UPDATE and DELETE on the audit table, whoever asks (not only Django).

TRUNCATE is left alone on purpose: test databases are flushed between tests with it.
"""

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION dashboard_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'dashboard_auditentry is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS dashboard_audit_append_only ON dashboard_auditentry;
CREATE TRIGGER dashboard_audit_append_only
    BEFORE UPDATE OR DELETE ON dashboard_auditentry
    FOR EACH ROW EXECUTE FUNCTION dashboard_audit_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS dashboard_audit_append_only ON dashboard_auditentry;
DROP FUNCTION IF EXISTS dashboard_audit_append_only();
"""


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("dashboard", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
