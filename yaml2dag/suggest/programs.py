"""What yaml2dag knows about common programs, to read their command lines (issue 12, §1).

Tables only: which programs are noise (looking around, interactive), which take
subcommands (``git checkout``) and which only operands (``cp A B``), which run scripts or other
programs, and which options take a value. They decide what is structure and what varies in
:mod:`.commands`; a program not listed is read as taking a subcommand (most CLIs do).

Nothing here imports Dagster.
"""

from __future__ import annotations

#: Programs that inspect or are interactive: dropped from the command stream (issue 12:
#: "trivial commands (ls, cd alone, clear, history...) do not make a suggestion").
NOISE = frozenset({
    "ls", "ll", "la", "l", "dir", "exa", "eza", "lsd", "tree", "clear", "cls", "reset", "history", "fc", "pwd",
    "exit", "logout", "whoami", "id", "man", "help", "info", "tldr", "which", "type", "whence", "where",
    "fg", "bg", "jobs", "top", "htop", "btop", "less", "more", "most", "vi", "vim", "nvim", "nano", "emacs",
    "pico", "micro", "code", "subl", "popd", "dirs", "alias", "unalias", "rehash", "hash", "hx",
})
#: Subcommands that only look (``git status``): noise too.
NOISE_SUBCOMMANDS = {"git": frozenset({"status", "diff", "log", "show", "branch", "st", "df", "lg"})}
#: Commands that are work but never worth a workflow on their own.
TRIVIAL_ALONE = frozenset({
    "echo", "printf", "cat", "head", "tail", "grep", "egrep", "rg", "ag", "find", "fd", "wc", "sleep", "true",
    "false", "date", "cal", "uptime", "free", "df", "du", "ps", "env", "printenv", "ping", "tmux",
    "screen", "watch", "file", "stat", "touch", "mkdir", "diff", "sort", "uniq", "jq", "bat", "open",
    "xdg-open", "ipython", "irb", "nvidia-smi", "kill", "pkill", "killall", "su", "sudo",
})
#: Programs that are interactive without a script or command (``python``, ``ssh host``).
INTERACTIVE = frozenset({"python", "python3", "node", "psql", "mysql", "sqlite3", "bash", "zsh", "fish", "sh",
                         "ssh"})
#: Programs whose arguments are operands, never subcommands.
OPERAND_PROGRAMS = frozenset({
    "cd", "pushd", "cp", "mv", "rm", "rsync", "scp", "sftp", "ssh", "curl", "wget", "http", "https", "cat",
    "tail", "head", "less", "more", "grep", "egrep", "rg", "ag", "find", "fd", "tar", "zip", "unzip", "gzip",
    "gunzip", "chmod", "chown", "chgrp", "mkdir", "rmdir", "touch", "ln", "du", "df", "ping", "python",
    "python3", "node", "ruby", "perl", "php", "bash", "sh", "zsh", "source", ".", "open", "xdg-open", "echo",
    "printf", "kill", "pkill", "psql", "mysql", "mysqldump", "sqlite3", "jq", "sed", "awk", "sort", "wc",
    "diff", "tee", "xargs", "sleep", "stat", "file", "md5sum", "sha256sum", "dig", "nslookup", "host",
    "traceroute", "nc", "telnet", "mount", "umount", "deno", "bun", "java", "go-run", "sshpass", "pytest",
})
#: Programs that run a script (named by it: ``python manage.py``).
INTERPRETERS = frozenset({"python", "python3", "node", "ruby", "perl", "php", "bash", "sh", "zsh", "deno", "bun"})
#: Programs that run another program (``sudo make install``): the next word is a program.
PREFIX_PROGRAMS = frozenset({"sudo", "nohup", "time", "nice", "exec", "command", "builtin", "doas"})
#: Programs with two levels of subcommands (``docker compose up``, ``npm run build``).
TWO_LEVEL = {
    "docker": frozenset({"compose", "container", "image", "volume", "network", "system", "buildx", "context"}),
    "podman": frozenset({"compose", "container", "image", "volume", "network", "system"}),
    "git": frozenset({"stash", "remote", "submodule", "worktree"}),
    "npm": frozenset({"run"}), "yarn": frozenset({"run"}), "pnpm": frozenset({"run"}),
    "poetry": frozenset({"run"}), "uv": frozenset({"run", "pip"}), "kubectl": frozenset({"rollout", "config"}),
    "gh": None, "aws": None, "gcloud": None, "az": None, "brew": frozenset({"services"}),
}
#: Context commands: they change where and how the next commands run.
CONTEXT = frozenset({"cd", "pushd", "export", "source", "."})

#: Long options that take the next word as their value, for any program.
LONG_VALUE_OPTIONS = frozenset({
    "--output", "--file", "--branch", "--tag", "--message", "--name", "--env", "--environment", "--host", "--port",
    "--namespace", "--context", "--region", "--profile", "--config", "--directory", "--dir", "--target", "--image",
    "--user", "--depth", "--remote", "--method", "--header", "--data", "--url", "--format", "--project",
    "--cluster", "--zone", "--values", "--set", "--label", "--since", "--until", "--limit", "--timeout",
    "--workers", "--jobs", "--count", "--filter", "--log-level", "--level", "--module", "--input", "--out",
    "--dest", "--destination", "--source", "--src", "--path", "--release", "--stage", "--service", "--app",
    "--bucket", "--database", "--db", "--username", "--exclude", "--include", "--request", "--model",
})
#: Short options that take a value, by program; programs not listed use ``*``.
SHORT_VALUE_OPTIONS = {
    "*": frozenset({"-o", "-f", "-C", "-m"}),
    "git": frozenset({"-b", "-B", "-c", "-m", "-C", "-F"}),
    "curl": frozenset({"-X", "-H", "-d", "-o", "-u", "-F", "-T", "-A", "-e", "-b", "-c", "-w", "-x", "-m", "-E"}),
    "wget": frozenset({"-O", "-P", "-o", "-U"}),
    "docker": frozenset({"-p", "-v", "-e", "-t", "-f", "-w", "-u", "-l", "-m"}),
    "podman": frozenset({"-p", "-v", "-e", "-t", "-f", "-w", "-u", "-l", "-m"}),
    "kubectl": frozenset({"-n", "-f", "-l", "-o", "-c"}),
    "helm": frozenset({"-n", "-f"}),
    "ssh": frozenset({"-p", "-i", "-l", "-o", "-F", "-J", "-L", "-R", "-D"}),
    "scp": frozenset({"-P", "-i", "-o", "-F", "-J"}),
    "rsync": frozenset({"-e"}),
    "tar": frozenset({"-f", "-C"}),
    "make": frozenset({"-C", "-f", "-j"}),
    "mysql": frozenset({"-u", "-h", "-P", "-D", "-e"}),
    "mysqldump": frozenset({"-u", "-h", "-P"}),
    "psql": frozenset({"-U", "-h", "-p", "-d", "-c", "-f"}),
    "pg_dump": frozenset({"-U", "-h", "-p", "-d", "-f", "-F"}),
    "sshpass": frozenset({"-p", "-f"}),
    "python": frozenset({"-m", "-c"}), "python3": frozenset({"-m", "-c"}),
    "pytest": frozenset({"-k", "-m", "-n"}),
}


__all__ = ["CONTEXT", "INTERACTIVE", "INTERPRETERS", "LONG_VALUE_OPTIONS", "NOISE", "NOISE_SUBCOMMANDS",
           "OPERAND_PROGRAMS", "PREFIX_PROGRAMS", "SHORT_VALUE_OPTIONS", "TRIVIAL_ALONE", "TWO_LEVEL"]
