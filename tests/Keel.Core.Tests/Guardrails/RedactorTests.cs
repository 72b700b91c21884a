using Keel.Core.Guardrails;

namespace Keel.Core.Tests.Guardrails;

public sealed class RedactorTests
{
    [Fact]
    public void Redact_Findings_ReplacedByMasks()
    {
        const string text = "mail a@b.io or call +1 202 555 0143";
        Finding[] findings = [new("pii.email", 5, 11, 0.9, "[EMAIL]"), new("pii.phone", 20, 35, 0.9, "[PHONE]")];

        Assert.Equal("mail [EMAIL] or call [PHONE]", Redactor.Redact(text, findings));
    }

    [Fact]
    public void Redact_OverlappingAndUnredactable_MergedAndSkipped()
    {
        const string text = "0123456789";
        Finding[] findings =
        [
            new("a", 2, 6, 0.9, "[A]"),
            new("b", 4, 8, 0.9, "[B]"),
            new("injection.classifier", 0, 10, 0.9),
        ];

        Assert.Equal("01[A]89", Redactor.Redact(text, findings));
    }

    [Fact]
    public void RedactReversible_SameValueSamePlaceholder_RestoresOriginal()
    {
        const string text = "x@y.io wrote to z@y.io and x@y.io again";
        var findings = GuardrailScanners.Get(GuardrailScanners.Pii)!.Scan(text).Findings;

        var r = Redactor.RedactReversible(text, findings);

        Assert.Equal("[EMAIL_1] wrote to [EMAIL_2] and [EMAIL_1] again", r.Text);
        Assert.Equal(text, r.Restore(r.Text));
        Assert.Equal("Reply to x@y.io [not a placeholder]", r.Restore("Reply to [EMAIL_1] [not a placeholder]"));
    }

    [Fact]
    public void Redact_NoFindings_ReturnsSameInstance()
    {
        const string text = "nothing";

        Assert.Same(text, Redactor.Redact(text, []));
    }
}
