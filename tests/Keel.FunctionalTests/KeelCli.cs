using System.Diagnostics;
using System.Text;

namespace Keel.FunctionalTests;

/// <summary>Runs the real <c>keel</c> executable with text on standard input.</summary>
internal static class KeelCli
{
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string stdin, string? workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "keel.dll"), .. args])
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? AppContext.BaseDirectory,
        };
        info.Environment.Remove("KEEL_CONFIG");
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.BaseStream.WriteAsync(Encoding.UTF8.GetBytes(stdin));
        process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
