using System.CommandLine;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Keel.Cli.Commands;

internal static class VersionCommand
{
    public static Command Create()
    {
        var command = new Command("version", "Print Keel's version and runtime.");
        command.SetAction(_ =>
        {
            var version = typeof(VersionCommand).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
            var plus = version.IndexOf('+', StringComparison.Ordinal);
            Console.WriteLine($"keel {(plus > 0 ? version[..plus] : version)} ({RuntimeInformation.FrameworkDescription}, {RuntimeInformation.RuntimeIdentifier})");
            return 0;
        });
        return command;
    }
}
