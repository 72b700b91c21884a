using Keel.Core.Guardrails;

namespace Keel.Core.Tests.Guardrails;

public sealed class PiiScannerTests
{
    private static readonly IScanner s_pii = GuardrailScanners.Get(GuardrailScanners.Pii)!;

    [Theory]
    [InlineData("Write to jane.roe+billing@mail.example.co.uk today.", "pii.email", "jane.roe+billing@mail.example.co.uk")]
    [InlineData("Call +44 20 7946 0958 please", "pii.phone", "+44 20 7946 0958")]
    [InlineData("Desk: +41 (0)62 585 51 90", "pii.phone", "+41 (0)62 585 51 90")]
    [InlineData("ring (415) 555-0132 now", "pii.phone", "(415) 555-0132")]
    [InlineData("office 212-555-0199x42.", "pii.phone", "212-555-0199x42")]
    [InlineData("Tel. 0494 92 82 32", "pii.phone", "0494 92 82 32")]
    [InlineData("手机 13812345678 联系我", "pii.phone", "13812345678")]
    [InlineData("Phone: 451 5986", "pii.phone", "451 5986")]
    [InlineData("card 4111 1111 1111 1111 exp 12/29", "pii.credit_card", "4111 1111 1111 1111")]
    [InlineData("amex 378282246310005.", "pii.credit_card", "378282246310005")]
    [InlineData("IBAN GB82 WEST 1234 5698 7654 32 thanks", "pii.iban", "GB82 WEST 1234 5698 7654 32")]
    [InlineData("to DE89370400440532013000.", "pii.iban", "DE89370400440532013000")]
    [InlineData("SSN 123-45-6789", "pii.us_ssn", "123-45-6789")]
    [InlineData("from 192.168.10.254:8080", "pii.ip_address", "192.168.10.254")]
    [InlineData("host 2001:db8::8a2e:370:7334 is down", "pii.ip_address", "2001:db8::8a2e:370:7334")]
    [InlineData("身份证号 110101199003071233。", "pii.cn_id", "110101199003071233")]
    [InlineData("id 44030419851231002X", "pii.cn_id", "44030419851231002X")]
    public void Scan_ValidIdentifier_FoundWithExactOffsets(string text, string scanner, string value)
    {
        var findings = s_pii.Scan(text).Findings;

        var f = Assert.Single(findings);
        Assert.Equal(scanner, f.Scanner);
        Assert.Equal(value, text[f.Start..f.End]);
        Assert.NotNull(f.Replacement);
    }

    [Theory]
    [InlineData("card 4111 1111 1111 1112")]                 // Luhn fails
    [InlineData("IBAN GB82WEST12345698765433")]               // mod-97 fails
    [InlineData("IBAN GB82WEST1234569876543")]                // wrong length for GB
    [InlineData("SSN 000-12-3456 and 666-12-3456 and 912-12-3456 and 123-00-4567")]
    [InlineData("address 256.1.1.1 or 1.2.3.4.5")]
    [InlineData("version 10.0.100 released 2024-05-17 at 12:30:45")]
    [InlineData("mac 00:1a:2b:3c:4d:5e and time 12:34:56")]
    [InlineData("id 110101199003071234")]                     // CN ID checksum fails
    [InlineData("id 110101199013071233")]                     // month 13
    [InlineData("test@iana.org is fine but \"quoted\"@x is not scanned; user@localhost neither")]
    [InlineData("Apt. 460  Pietersburg  South Africa 89082 and 389 167 king street")]
    [InlineData("order 1234567890123 shipped")]
    [InlineData("no email here: name@, @domain.com, a@b")]
    public void Scan_LookAlike_NotReportedAsIdentifier(string text)
    {
        var findings = s_pii.Scan(text).Findings;

        // The only acceptable finding in these lines is the one real e-mail address.
        Assert.All(findings, f => Assert.Equal("test@iana.org", text[f.Start..f.End]));
    }

    [Fact]
    public void Scan_SeveralKinds_AllFoundInOrder()
    {
        const string text = "Contact bob@example.com or +1-202-555-0143; card 5500-0000-0000-0004; from 10.0.0.7.";

        var findings = s_pii.Scan(text).Findings;

        Assert.Equal(["pii.email", "pii.phone", "pii.credit_card", "pii.ip_address"], findings.Select(f => f.Scanner));
        Assert.True(findings.Zip(findings.Skip(1)).All(p => p.First.End <= p.Second.Start));
    }

    [Fact]
    public void Scan_CleanText_AllocatesNoFindings()
    {
        var result = s_pii.Scan("Nothing personal in this sentence at all.");

        Assert.False(result.HasFindings);
        Assert.Empty(result.Findings);
        Assert.Equal(0, result.MaxScore);
    }
}
