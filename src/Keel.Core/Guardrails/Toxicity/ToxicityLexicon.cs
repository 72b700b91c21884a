using System.Buffers;
using System.Collections.Frozen;
using Keel.Core.Guardrails.Text;

namespace Keel.Core.Guardrails.Toxicity;

/// <summary>
/// Keel's own toxicity word list (written for Keel, not taken from any dataset or other project), matched on the
/// normalised words of <see cref="AnalyzedText"/>: leetspeak, repeated letters, s p a c e d letters, masked
/// letters (f*ck) and look-alike characters are undone before lookup. Hits become named features of the learned
/// scorer, which weighs them against context (negation, counter-speech, "kill the process").
/// </summary>
internal static class ToxicityLexicon
{
    [Flags]
    public enum Cat : ushort
    {
        None = 0,
        Profanity = 1 << 0,
        MildProfanity = 1 << 1,
        Insult = 1 << 2,
        Slur = 1 << 3,
        Dehumanizing = 1 << 4,
        HateVerb = 1 << 5,
        Violence = 1 << 6,
        Group = 1 << 7,
        Person = 1 << 8,
        Negation = 1 << 9,
    }

    private static readonly FrozenDictionary<string, Cat> s_words = Build();

    private static readonly FrozenDictionary<string, Cat>.AlternateLookup<ReadOnlySpan<char>> s_lookup =
        s_words.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>Roots that make any word containing them profane (fuckwit, shithead, dumbass).</summary>
    private static readonly SearchValues<string> s_profaneRoots = SearchValues.Create(
        ["fuck", "shit", "bitch", "cunt", "asshole", "dickhead", "motherf", "retard", "whore", "dumbass", "jackass", "twat", "wanker"],
        StringComparison.Ordinal);

    private static FrozenDictionary<string, Cat> Build()
    {
        var d = new Dictionary<string, Cat>(StringComparer.Ordinal);
        void Add(Cat c, string words)
        {
            foreach (var w in words.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                d[w] = d.GetValueOrDefault(w) | c;
            }
        }

        Add(Cat.Profanity, "fuck fucks fucked fucking fucker fuckers fuckin fck fcking fuk fukin fuking phuck effing motherfucker motherfuckers mofo shit shits shitty shite bullshit horseshit cunt cunts bitch bitches bitchy asshole assholes arsehole dick dicks dickhead prick pricks twat twats wanker wankers bastard bastards cock cocksucker douche douchebag slut sluts whore whores skank piss pissed jackass dumbass smartass wtf stfu gtfo");
        Add(Cat.MildProfanity, "damn damned dammit crap crappy hell bloody bugger sucks suck screw freaking frigging ass arse butt");
        Add(Cat.Insult, "idiot idiots idiotic moron morons moronic stupid stupidity dumb dummy imbecile imbeciles cretin cretins fool fools foolish loser losers pathetic worthless useless clown clowns ignorant incompetent disgusting disgrace gross ugly fat lazy liar liars hypocrite hypocrites scumbag scumbags lowlife jerk jerks creep creepy pervert perverts psycho psychopath lunatic maniac nutjob halfwit dimwit nitwit dolt buffoon coward cowards traitor traitors degenerate degenerates thug thugs trash trashy garbage filth filthy scum sleazy senile demented deranged brainless clueless spineless shameless vile despicable repulsive revolting sick twisted evil wicked");
        Add(Cat.Slur, "nigger niggers nigga niggas negro negroes coon coons darkie jigaboo spook porchmonkey faggot faggots fag fags dyke dykes tranny trannies shemale homo homos queer kike kikes yid heeb spic spics wetback wetbacks beaner beaners chink chinks gook gooks slant zipperhead paki pakis raghead ragheads towelhead towelheads sandnigger camel-jockey kaffir gypsy gyppo retard retards retarded tard spaz spastic mongoloid cripple cripples gimp midget");
        Add(Cat.Dehumanizing, "vermin rats rat cockroach cockroaches roaches parasite parasites leeches leech animals animal beasts beast savages savage subhuman subhumans pests pest plague disease cancer infestation swarm swarms apes ape monkeys monkey pigs pig dogs insects maggots filth scum trash garbage inferior primitive barbaric barbarians mongrels");
        Add(Cat.HateVerb, "hate hates hated hating despise despises loathe loathes detest detests abhor can't-stand");
        Add(Cat.Violence, "hurt harm kill killed killing kills murder murdered murdering shoot shot shooting stab stabbed stabbing hang hanged hanging lynch lynched lynching burn burned burning gas gassed exterminate exterminated extermination slaughter slaughtered eradicate eradicated eliminate genocide beat beaten beating rape raped raping behead beheaded execute executed strangle choke drown bomb bombed massacre annihilate torture tortured die dead death deserve deserves");
        Add(Cat.Group, "women woman girls girl females female men males gays gay lesbians lesbian bisexuals bisexual trans transgender transgenders transwomen transmen queers blacks black whites white jews jew jewish muslims muslim islam christians christian catholics hindus hindu sikhs buddhists atheists immigrants immigrant refugees refugee migrants migrant foreigners asians asian chinese mexicans mexican latinos latino hispanics arabs arab africans african indians indian pakistanis gypsies roma disabled handicapped autistic elderly poor people folks liberals conservatives democrats republicans leftists feminists");
        Add(Cat.Person, "you your you're youre u ur yourself he she him her they them those these all every");
        Add(Cat.Negation, "not no never don't dont isn't isnt aren't arent wasn't shouldn't nobody nothing without stop against wrong unacceptable");

        // Chinese: each ideograph is a token, so entries here are matched as substrings of the folded text.
        return d.ToFrozenDictionary(StringComparer.Ordinal);
    }

    private static readonly (string Text, Cat Cat)[] s_chinese =
    [
        ("傻逼", Cat.Profanity), ("傻b", Cat.Profanity), ("煞笔", Cat.Profanity), ("操你", Cat.Profanity), ("草泥马", Cat.Profanity),
        ("他妈的", Cat.Profanity), ("你妈的", Cat.Profanity), ("妈的", Cat.MildProfanity), ("狗日的", Cat.Profanity), ("王八蛋", Cat.Insult),
        ("混蛋", Cat.Insult), ("贱人", Cat.Insult), ("婊子", Cat.Profanity), ("白痴", Cat.Insult), ("智障", Cat.Insult), ("脑残", Cat.Insult),
        ("蠢货", Cat.Insult), ("废物", Cat.Insult), ("垃圾人", Cat.Insult), ("人渣", Cat.Insult), ("狗娘养的", Cat.Profanity),
        ("滚蛋", Cat.Insult), ("去死", Cat.Violence), ("杀了你", Cat.Violence), ("弄死你", Cat.Violence), ("砍死", Cat.Violence),
        ("打死你", Cat.Violence), ("全部杀光", Cat.Violence), ("该死", Cat.Violence), ("黑鬼", Cat.Slur), ("支那", Cat.Slur),
        ("死基佬", Cat.Slur), ("娘炮", Cat.Slur), ("蛆虫", Cat.Dehumanizing), ("畜生", Cat.Dehumanizing), ("劣等", Cat.Dehumanizing),
        ("我恨", Cat.HateVerb), ("讨厌", Cat.HateVerb),
    ];

    /// <summary>Category of one normalised word; tries the word, its single-letter-run form and a plural-less form.</summary>
    public static Cat Lookup(ReadOnlySpan<char> w)
    {
        if (w.Length < 2)
        {
            return w is "u" ? Cat.Person : Cat.None;
        }
        if (s_lookup.TryGetValue(w, out var c))
        {
            return c;
        }
        Span<char> buf = stackalloc char[Math.Min(w.Length, 64)];
        if (w.Length <= 64)
        {
            // "fuuck" → "fuck", "stuupid" → "stupid" (doubled letters were already cut to two by the analyser).
            var n = 0;
            foreach (var ch in w)
            {
                if (n == 0 || buf[n - 1] != ch)
                {
                    buf[n++] = ch;
                }
            }
            if (n != w.Length && s_lookup.TryGetValue(buf[..n], out c))
            {
                return c;
            }
            if (w.Contains('*'))
            {
                return Masked(w);
            }
        }
        return w.Length > 4 && w.IndexOfAny(s_profaneRoots) >= 0 ? Cat.Profanity : Cat.None;
    }

    /// <summary>"f*ck", "sh*t", "n****r": a masked word matches a profanity or slur of the same length and visible letters.</summary>
    private static Cat Masked(ReadOnlySpan<char> w)
    {
        foreach (var (word, cat) in s_words)
        {
            if (word.Length != w.Length || (cat & (Cat.Profanity | Cat.Slur | Cat.Insult)) == 0 || w[0] != word[0])
            {
                continue;
            }
            var ok = true;
            for (var i = 0; i < w.Length && ok; i++)
            {
                ok = w[i] == '*' || w[i] == word[i];
            }
            if (ok)
            {
                return cat & (Cat.Profanity | Cat.Slur | Cat.Insult);
            }
        }
        return Cat.None;
    }

    /// <summary>The category of every word of the analysed text (CJK words have none: see <see cref="Chinese"/>).</summary>
    public static void Categorize(AnalyzedText a, Span<Cat> cats)
    {
        var tokens = a.Tokens;
        for (var i = 0; i < tokens.Length; i++)
        {
            cats[i] = tokens[i].Cjk ? Cat.None : Lookup(a.Word(tokens[i]));
        }
    }

    /// <summary>Chinese entries found in the folded text.</summary>
    public static Cat Chinese(ReadOnlySpan<char> folded)
    {
        var cats = Cat.None;
        if (!folded.ContainsAnyInRange('\u4E00', '\u9FFF'))
        {
            return cats;
        }
        foreach (var (text, cat) in s_chinese)
        {
            if (folded.Contains(text, StringComparison.Ordinal))
            {
                cats |= cat;
            }
        }
        return cats;
    }
}
