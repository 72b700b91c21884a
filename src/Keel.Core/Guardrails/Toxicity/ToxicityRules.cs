using Keel.Core.Guardrails.Text;
using static Keel.Core.Guardrails.Toxicity.ToxicityLexicon;

namespace Keel.Core.Guardrails.Toxicity;

/// <summary>
/// High-precision toxicity patterns that do not depend on training data: an insult or profanity aimed at
/// "you", violence aimed at a person ("go kill yourself", "I will hurt you"), a group called vermin, and the
/// Chinese lexicon (the learned scorer has no Chinese training data). A negation or reported-speech word just
/// before the pattern ("calling people vermin is wrong") cancels it.
/// </summary>
internal static class ToxicityRules
{
    public readonly record struct Hit(string Name, double Score);

    public static Hit Evaluate(AnalyzedText a, ReadOnlySpan<Cat> cats)
    {
        var tokens = a.Tokens;
        var best = default(Hit);
        for (var i = 0; i < tokens.Length; i++)
        {
            var w = a.Word(tokens[i]);
            var c = cats[i];
            if (c == Cat.None)
            {
                continue;
            }
            if (IsSecondPerson(w))
            {
                // "you are a (fucking) idiot", "you stupid moron", "you're such a loser".
                for (var j = i + 1; j < tokens.Length && j <= i + 5; j++)
                {
                    var wj = a.Word(tokens[j]);
                    if (IsFiller(wj))
                    {
                        continue;
                    }
                    var cj = cats[j];
                    if ((cj & (Cat.Insult | Cat.Profanity | Cat.Slur)) != 0 && (cj & Cat.Negation) == 0 && !Negated(a, tokens, cats, i))
                    {
                        Keep(ref best, new Hit((cj & Cat.Slur) != 0 ? "toxicity.hate" : "toxicity.insult", 0.8));
                    }
                    break;
                }
            }
            if ((c & Cat.Profanity) != 0 && (w[0] == 'f' || w is "screw") && i + 1 < tokens.Length && IsSecondPerson(a.Word(tokens[i + 1])) && !Negated(a, tokens, cats, i))
            {
                Keep(ref best, new Hit("toxicity.insult", 0.8)); // "fuck you", "screw you"
            }
            if ((c & Cat.Violence) != 0 && IsViolentVerb(w))
            {
                // "kill yourself", "I will hurt you", "shoot them all".
                for (var j = i + 1; j < tokens.Length && j <= i + 2; j++)
                {
                    if (a.Word(tokens[j]) is "you" or "yourself" or "u" or "yourselves"
                        && !Negated(a, tokens, cats, i))
                    {
                        Keep(ref best, new Hit("toxicity.threat", 0.85));
                        break;
                    }
                }
            }
            if ((c & Cat.Group) != 0 || w is "people" or "they" or "those" or "these")
            {
                // "<group> are vermin", "those people are animals and should be exterminated".
                for (var j = i + 1; j < tokens.Length && j <= i + 4; j++)
                {
                    var cj = cats[j];
                    if ((cj & (Cat.Dehumanizing | Cat.Slur)) != 0 && HasCopula(a, tokens, i, j) && !Negated(a, tokens, cats, i))
                    {
                        Keep(ref best, new Hit("toxicity.hate", 0.75));
                        break;
                    }
                }
            }
        }
        var zh = Chinese(a.Folded);
        if ((zh & Cat.Violence) != 0)
        {
            Keep(ref best, new Hit("toxicity.threat", 0.85));
        }
        else if ((zh & (Cat.Slur | Cat.Dehumanizing)) != 0)
        {
            Keep(ref best, new Hit("toxicity.hate", 0.8));
        }
        else if ((zh & (Cat.Profanity | Cat.Insult)) != 0)
        {
            Keep(ref best, new Hit("toxicity.insult", 0.8));
        }
        return best;
    }

    private static void Keep(ref Hit best, Hit hit)
    {
        if (hit.Score > best.Score)
        {
            best = hit;
        }
    }

    private static bool IsSecondPerson(ReadOnlySpan<char> w) => w is "you" or "u" or "ya" or "youre" or "ur" or "yourself";

    private static bool IsViolentVerb(ReadOnlySpan<char> w) =>
        w is "kill" or "murder" or "shoot" or "stab" or "hang" or "lynch" or "burn" or "hurt" or "strangle" or "choke" or "drown"
            or "rape" or "behead" or "slaughter" or "exterminate" or "gas" or "beat" or "torture" or "harm";

    /// <summary>Words that may stand between "you" and the insult: "you are such a fucking idiot".</summary>
    private static bool IsFiller(ReadOnlySpan<char> w) =>
        w is "are" or "re" or "r" or "is" or "a" or "an" or "such" or "so" or "the" or "absolute" or "complete" or "total" or "little"
            or "big" or "fucking" or "fuckin" or "fking" or "damn" or "bloody" or "real" or "utter" or "just" or "really"
            or "piece" or "of" or "sorry" or "freaking" or "fkn" or "effing";

    private static bool HasCopula(AnalyzedText a, ReadOnlySpan<Token> tokens, int from, int to)
    {
        for (var k = from + 1; k < to; k++)
        {
            if (a.Word(tokens[k]) is "are" or "is" or "were" or "be" or "r")
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// A negation or reporting word in the three words before ("not", "never", "calling", "saying"), or the words
    /// sit inside double quotes: quoted abuse is usually reported or condemned, not meant.
    /// </summary>
    private static bool Negated(AnalyzedText a, ReadOnlySpan<Token> tokens, ReadOnlySpan<Cat> cats, int at)
    {
        var before = a.Text.AsSpan(0, tokens[at].Start);
        if ((before.Count('"') + before.Count('“')) % 2 == 1)
        {
            return true;
        }
        for (var k = Math.Max(0, at - 3); k < at; k++)
        {
            var w = a.Word(tokens[k]);
            if ((cats[k] & Cat.Negation) != 0 || w is "calling" or "call" or "saying" or "said" or "says" or "called" or "if" or "would")
            {
                return true;
            }
        }
        return false;
    }
}
