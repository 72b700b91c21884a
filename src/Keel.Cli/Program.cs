using System.CommandLine;
using Keel.Cli.Commands;

var root = new RootCommand("""
    Keel: an LLM gateway and LLMOps platform. One OpenAI-compatible endpoint in front of every provider,
    recording, protecting and measuring every call.

    Start here:  keel serve            (no config needed: the offline local provider answers)
                 keel config validate  (check keel.yaml before you deploy it)
                 keel prompt push FILE (version a prompt in a running Keel; see docs/prompts.md)
    """)
{
    ServeCommand.Create(),
    ConfigCommand.Create(),
    PromptCommand.Create(),
    ExperimentCommand.Create(),
    TokenizeCommand.Create(),
    GuardCommand.Create(),
    AccessCommands.Keys(),
    AccessCommands.Projects(),
    AccessCommands.Audit(),
    AccessCommands.Users(),
    VersionCommand.Create(),
};

return await root.Parse(args).InvokeAsync();
