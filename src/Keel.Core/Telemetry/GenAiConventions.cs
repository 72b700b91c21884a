using Keel.Core.Configuration;
using Keel.Core.Metering;

namespace Keel.Core.Telemetry;

/// <summary>
/// Span attribute names of the OpenTelemetry semantic conventions for generative AI
/// (https://opentelemetry.io/docs/specs/semconv/gen-ai/), and Keel's own under <c>keel.</c>.
/// </summary>
public static class GenAiConventions
{
    public const string OperationName = "gen_ai.operation.name";
    public const string ProviderName = "gen_ai.provider.name";
    /// <summary>The older name of <see cref="ProviderName"/>, kept for backends that read it.</summary>
    public const string System = "gen_ai.system";
    public const string RequestModel = "gen_ai.request.model";
    public const string RequestTemperature = "gen_ai.request.temperature";
    public const string RequestTopP = "gen_ai.request.top_p";
    public const string RequestMaxTokens = "gen_ai.request.max_tokens";
    public const string RequestFrequencyPenalty = "gen_ai.request.frequency_penalty";
    public const string RequestPresencePenalty = "gen_ai.request.presence_penalty";
    public const string RequestSeed = "gen_ai.request.seed";
    public const string RequestStopSequences = "gen_ai.request.stop_sequences";
    public const string RequestChoiceCount = "gen_ai.request.choice.count";
    public const string RequestEncodingFormats = "gen_ai.request.encoding_formats";
    public const string OutputType = "gen_ai.output.type";
    public const string ResponseId = "gen_ai.response.id";
    public const string ResponseModel = "gen_ai.response.model";
    public const string ResponseFinishReasons = "gen_ai.response.finish_reasons";
    public const string UsageInputTokens = "gen_ai.usage.input_tokens";
    public const string UsageOutputTokens = "gen_ai.usage.output_tokens";
    public const string ConversationId = "gen_ai.conversation.id";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string ErrorType = "error.type";
    public const string SessionId = "session.id";
    public const string UserId = "user.id";

    public const string KeelCachedInputTokens = "keel.usage.cached_input_tokens";
    public const string KeelCostUsd = "keel.cost_usd";
    public const string KeelCostEstimated = "keel.cost_estimated";
    public const string KeelTags = "keel.tags";

    /// <summary>
    /// The <c>gen_ai.provider.name</c> of a configured provider: the convention's well-known values
    /// where the base URL names a known API (openai, anthropic, azure.ai.openai, gcp.gemini,
    /// mistral_ai, deepseek, groq), the catalogue's host name for other known hosts, and for any
    /// other OpenAI-compatible server "openai" (the wire protocol it speaks).
    /// </summary>
    public static string ProviderNameOf(ProviderConfig provider) => provider.Kind switch
    {
        ProviderKinds.Azure => "azure.ai.openai",
        ProviderKinds.Anthropic => "anthropic",
        ProviderKinds.Local => "keel.local",
        _ => PriceCatalog.Default.ProviderFor(provider) switch
        {
            "google" => "gcp.gemini",
            "mistral" => "mistral_ai",
            "qwen" => "alibaba.qwen",
            null => "openai",
            var known => known,
        },
    };
}
