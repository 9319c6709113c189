/**
 * The PowerShell script: a native argument completer holding the tree as data, with the same walk
 * as the other shells. A flag whose value is a path (or free text) gets no answer from it, so
 * PowerShell offers its own path completion there.
 */
import type { CompletionNode } from "./tree.ts";

export function powershellScript(
  nodes: readonly CompletionNode[],
  name: string,
  header: string,
): string {
  // Flat arrays (word, help, word, help...): PowerShell flattens an array holding one array.
  const pairs = (list: readonly { word: string; help: string }[]) =>
    `@(${list.flatMap((w) => [quote(w.word), quote(w.help)]).join(", ")})`;
  // Triples (flag, kind, choices joined by spaces).
  const values = (node: CompletionNode) =>
    `@(${
      node.valueFlags.flatMap((v) =>
        v.words.flatMap((w) => [
          quote(w),
          quote(v.value.kind),
          quote(v.value.kind === "choices" ? v.value.choices.join(" ") : ""),
        ])
      ).join(", ")
    })`;
  const tree = nodes.map((n) =>
    `        ${quote(n.key)} = @{\n` +
    `            children = ${pairs(n.children)}\n` +
    `            flags = ${pairs(n.flags)}\n` +
    `            values = ${values(n)}\n` +
    `        }`
  ).join("\n");
  return `${header}
# Install: ${name} completions powershell >> $PROFILE

Register-ArgumentCompleter -Native -CommandName ${quote(name)} -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    # Per command path: sub-commands and flags (word, help, ...), flags taking a value (flag, kind, choices, ...).
    $tree = @{
${tree}
    }
    $node = ''
    $flag = ''
    $words = @($commandAst.CommandElements | Select-Object -Skip 1 |
        Where-Object { $_.Extent.EndOffset -lt $cursorPosition } | ForEach-Object { $_.Extent.Text })
    foreach ($word in $words) {
        if ($flag) { $flag = ''; continue }
        if ($word -ceq '--') { return }
        if ($word -like '-*=*') { continue }
        $values = $tree[$node].values
        if ($word.StartsWith('-')) {
            for ($i = 0; $i -lt $values.Count; $i += 3) { if ($values[$i] -ceq $word) { $flag = $word } }
            continue
        }
        $children = $tree[$node].children
        for ($i = 0; $i -lt $children.Count; $i += 2) {
            if ($children[$i] -ceq $word) { $node = "$node $word".Trim(); break }
        }
    }
    $current = "$wordToComplete"
    $prefix = ''
    if (-not $flag -and $current.StartsWith('-') -and $current.Contains('=')) {
        $at = $current.IndexOf('=')
        $flag = $current.Substring(0, $at)
        $prefix = $current.Substring(0, $at + 1)
        $current = $current.Substring($at + 1)
    }
    if ($flag) {
        $values = $tree[$node].values
        for ($i = 0; $i -lt $values.Count; $i += 3) {
            if ($values[$i] -ceq $flag -and $values[$i + 1] -ceq 'choices') {
                foreach ($choice in $values[$i + 2].Split(' ')) {
                    if ($choice.StartsWith($current, [System.StringComparison]::Ordinal)) {
                        [System.Management.Automation.CompletionResult]::new("$prefix$choice", $choice, 'ParameterValue', $choice)
                    }
                }
            }
        }
        return
    }
    $children = $tree[$node].children
    if ($current.StartsWith('-') -or $children.Count -eq 0) {
        $list = $tree[$node].flags
        $type = 'ParameterName'
    } else {
        $list = $children
        $type = 'ParameterValue'
    }
    for ($i = 0; $i -lt $list.Count; $i += 2) {
        if ($list[$i].StartsWith($current, [System.StringComparison]::Ordinal)) {
            [System.Management.Automation.CompletionResult]::new($list[$i], $list[$i], $type, $list[$i + 1])
        }
    }
}
`;
}

/** PowerShell takes the typographic single quotes for quotes too; each is escaped by doubling. */
function quote(text: string): string {
  return `'${text.replace(/['\u2018\u2019\u201a\u201b]/g, "$&$&")}'`;
}
