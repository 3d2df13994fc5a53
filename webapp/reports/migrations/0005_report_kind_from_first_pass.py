"""Reports stored while every report was of kind "ingestion_facts" get the kind their first pass gives them today
("contract" or "report", the playbook an upload is reviewed with) and the matching title. Reversible: going back
restores the old kind and title, which the old code expects."""

from django.db import migrations

OLD_KIND = "ingestion_facts"
OLD_TITLE = "Ingestion facts (no language-model analysis has run yet)"


def kind_from_first_pass(apps, schema_editor):
    from analysis.first_pass.record import FirstPassRecord, FirstPassRecordError
    from analysis.pipeline import RESULT_TITLES
    from analysis.playbooks.choice import REPORT, automatic_playbook_name

    Report = apps.get_model("reports", "Report")
    for report in Report.objects.filter(kind=OLD_KIND).only("pk", "first_pass").iterator(chunk_size=500):
        try:
            kind = automatic_playbook_name(FirstPassRecord.from_json(report.first_pass))
        except FirstPassRecordError:
            kind = REPORT
        Report.objects.filter(pk=report.pk).update(kind=kind, title=RESULT_TITLES[kind])


def back_to_ingestion_facts(apps, schema_editor):
    apps.get_model("reports", "Report").objects.exclude(kind=OLD_KIND).update(kind=OLD_KIND, title=OLD_TITLE)


class Migration(migrations.Migration):
    dependencies = [("reports", "0004_finding_review_and_comments")]

    operations = [migrations.RunPython(kind_from_first_pass, back_to_ingestion_facts)]
