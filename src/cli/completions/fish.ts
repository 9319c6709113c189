/**
 * The fish script: one `complete` line per sub-command and flag, each under the condition that
 * the command line has reached its command path. Fish itself completes a flag's value (its
 * choices, files for a path) and the `--flag=value` form.
 */
import { type CompletionNode, identifier } from "./tree.ts";

export function fishScript(nodes: readonly CompletionNode[], name: string, header: string): string {
  const f = `__${identifier(name)}`;
  // Sub-command paths are plain words and spaces (tree.ts): double quotes hold them in fish.
  const at = (key: string) => `-n ${quote(`${f}_at "${key}"`)}`;
  const lines: string[] = [];
  for (const node of nodes) {
    for (const child of node.children) {
      lines.push(`complete -c ${name} ${at(node.key)} -a ${child.word} -d ${quote(child.help)}`);
    }
    for (const flag of node.flags) {
      const option = flag.word.startsWith("--")
        ? `-l ${flag.word.slice(2)}`
        : `-s ${flag.word.slice(1)}`;
      const value = node.valueFlags.find((v) => v.words.includes(flag.word))?.value;
      const argument = value === undefined
        ? ""
        : value.kind === "choices"
        ? ` -x -a ${quote(value.choices.join(" "))}`
        : value.kind === "file"
        ? " -r -F"
        : value.kind === "directory"
        ? " -x -a '(__fish_complete_directories)'"
        : " -x";
      lines.push(`complete -c ${name} ${at(node.key)} ${option}${argument} -d ${quote(flag.help)}`);
    }
  }
  return `${header}
# Install: ${name} completions fish > ~/.config/fish/completions/${name}.fish

# Whether $argv[2] is a sub-command of the command path $argv[1].
function ${f}_child
    switch "$argv[1]|$argv[2]"
${
    nodes.flatMap((n) =>
      n.children.map((c) => `        case ${quote(`${n.key}|${c.word}`)}\n            return 0`)
    ).join("\n")
  }
    end
    return 1
end

# Whether flag $argv[2] of the command path $argv[1] takes a value.
function ${f}_takes_value
    switch "$argv[1]|$argv[2]"
${
    nodes.flatMap((n) =>
      n.valueFlags.map((v) =>
        `        case ${v.words.map((w) => quote(`${n.key}|${w}`)).join(" ")}\n            return 0`
      )
    ).join("\n")
  }
    end
    return 1
end

# Whether the words before the cursor lead to the command path $argv[1].
function ${f}_at
    set -l words (commandline -opc)
    set -e words[1]
    set -l node ''
    set -l flag ''
    for word in $words
        if test -n "$flag"
            set flag ''
            continue
        end
        switch $word
            case '--'
                return 1
            case '-*=*'
            case '-*'
                ${f}_takes_value "$node" $word; and set flag $word
            case '*'
                ${f}_child "$node" $word; and set node (string trim -- "$node $word")
        end
    end
    test "$node" = "$argv[1]"
end

complete -c ${name} -f
${lines.join("\n")}
`;
}

function quote(text: string): string {
  return `'${text.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
