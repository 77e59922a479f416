"""Forms of the dashboard pages. They only validate input; dashboard.services decides."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from dashboard import refs


class DeployForm(forms.Form):
    commit = forms.CharField(
        label="Commit SHA",
        max_length=40, required=False,
        help_text="The git commit to build and deploy: 7 to 40 hexadecimal characters. "
                  "Leave empty to deploy the commit the branch or tag below points at.",
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autofocus": True,
                   "pattern": "[0-9a-fA-F]{7,40}"}
        ),
    )
    ref = forms.CharField(
        label="Branch or tag", max_length=200, required=False,
        help_text="e.g. main or v1.4.2: shown with the release, or looked up when no commit "
                  "is given.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    reason = forms.CharField(
        label="Reason", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )
    force = forms.BooleanField(label="Deploy past the lock", required=False)
    force_reason = forms.CharField(
        label="Why deploy past the lock", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )

    def __init__(self, *args: Any, can_force: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.can_force = can_force
        if not can_force:
            del self.fields["force"]
            del self.fields["force_reason"]

    def clean_commit(self) -> str:
        try:
            return refs.clean_commit(self.cleaned_data["commit"])
        except ValueError:
            raise forms.ValidationError(f"Enter {refs.SHA_RULE}.") from None

    def clean_ref(self) -> str:
        try:
            return refs.clean_ref(self.cleaned_data.get("ref", ""))
        except ValueError:
            raise forms.ValidationError(f"Enter {refs.REF_RULE}.") from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("commit") or data.get("ref") or {"commit", "ref"} & set(self.errors)):
            self.add_error("commit", "Enter a commit SHA, or a branch or tag to deploy.")
        if data.get("force") and not (data.get("force_reason") or "").strip():
            self.add_error("force_reason", "Say why you deploy past the lock.")
        return data

    def target(self) -> dict[str, str]:
        """commit/ref arguments for services.request_release."""
        return {"commit": self.cleaned_data["commit"], "ref": self.cleaned_data.get("ref", "")}


def _choice(form: forms.Form, name: str) -> forms.ChoiceField:
    return cast(forms.ChoiceField, form.fields[name])


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason", max_length=500, required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )


class RollbackForm(ReasonForm):
    to_release = forms.TypedChoiceField(
        label="Roll back to", coerce=int, required=False, empty_value=None,
        help_text="Default: the release that ran before the current one.",
    )
    # Set by the Service page's "roll back to this revision" links: wins over to_release.
    revision = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)
    acknowledge_schema_change = forms.BooleanField(
        label="Roll back past schema changes", required=False,
        help_text="Needed when a later release ran a pre-deploy Job (migrations): the older "
        "image will run against the newer schema.",
    )

    def __init__(self, *args: Any, choices: list[tuple[Any, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "to_release").choices = [("", "the previous good release"), *(choices or [])]
        if self.data.get("revision") or self.initial.get("revision"):
            del self.fields["to_release"]  # the revision names the target


class LockForm(forms.Form):
    service = forms.ChoiceField(label="Service")
    reason = forms.CharField(label="Reason", max_length=500)
    expires_in_minutes = forms.IntegerField(
        label="Expires after (minutes)", required=False, min_value=1, max_value=60 * 24 * 14,
        help_text="Empty: until someone releases it.",
    )

    def __init__(self, *args: Any, services: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "service").choices = [(s, s) for s in services or []]


class ReleaseFilterForm(forms.Form):
    service = forms.ChoiceField(label="Service", required=False)
    state = forms.ChoiceField(label="State", required=False)
    user = forms.CharField(label="User", required=False, max_length=150)
    via = forms.ChoiceField(label="Via", required=False)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        label="Commit", required=False, max_length=64,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "sha prefix"}),
    )

    def __init__(self, *args: Any, services: list[str], states: list[str], vias: list[str],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice(self, "service").choices = [("", "all"), *((s, s) for s in services)]
        _choice(self, "state").choices = [("", "all"), *((s, s.replace("_", " ")) for s in states)]
        _choice(self, "via").choices = [("", "all"), *((v, v) for v in vias)]
